// `metala bench --matmul SPECS`: the matrix products of a training step, timed on the current
// backend with metala's tiled WebGPU kernel and with tfjs's own BatchMatMul in the same process,
// with an equality check between the two; a reference (PyTorch, src/bench/reference/torch_matmul.py)
// measured in the same GPU call can be attached with --reference.
import * as tf from '@tensorflow/tfjs';
import { MetalaError } from '../util/errors.js';

/** `[batch x] M x N x K [:ta] [:tb]`, e.g. `32768x8192x128`, `128x128x32768:ta`, `512x256x256x32:tb`. */
export interface MatmulCase {
  spec: string;
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

export interface MatmulTiming {
  /** Per product: GPU time from pass timestamps where the device has them, else wall time. */
  ms: number;
  tflops: number;
  /** Wall time per product, host launch cost included (small products are host-bound). */
  wall_ms?: number;
}

export interface MatmulResult extends MatmulCase {
  backend: string;
  device: string;
  /** 2·batch·M·N·K */
  flop: number;
  /** What `ms` measures: 'gpu' (timestamps around the products' compute passes) or 'wall'. */
  clock: 'gpu' | 'wall';
  tiled?: MatmulTiming;
  tfjs: MatmulTiming;
  /** The tile pickTile chose for this product (webgpu, when the tiled kernel takes it). */
  tile?: string;
  /** bench --matmul-tiles: the tiled kernel with each named tile forced (METALA_MATMUL_TILE), same inputs. */
  tiles?: Record<string, MatmulTiming & { max_rel_diff: number }>;
  /** max |tiled − tfjs| / max |tfjs| on the same inputs */
  max_rel_diff?: number;
  /** The same product measured elsewhere in the same GPU call (e.g. PyTorch fp32, TF32 off). */
  reference?: MatmulTiming & { framework: string; dtype: string };
  error?: string;
}

export function parseMatmulSpec(spec: string): MatmulCase {
  const [dimsPart, ...flags] = spec.trim().split(':');
  const dims = (dimsPart ?? '').split('x').map((s) => Number(s));
  const bad = (why: string): never => {
    throw new MetalaError(`bench --matmul: '${spec}': ${why}. Write [batch x] M x N x K [:ta] [:tb], e.g. 32768x8192x128 or 128x128x32768:ta`, 2);
  };
  if (dims.length !== 3 && dims.length !== 4) bad('expected 3 or 4 sizes separated by x');
  if (dims.some((n) => !Number.isInteger(n) || n < 1)) bad('every size must be a positive integer');
  const unknown = flags.filter((f) => f !== 'ta' && f !== 'tb');
  if (unknown.length > 0) bad(`unknown flag '${unknown[0]}'`);
  const [batch, M, N, K] = dims.length === 4 ? (dims as [number, number, number, number]) : ([1, ...dims] as [number, number, number, number]);
  return { spec, batch, M, N, K, transA: flags.includes('ta'), transB: flags.includes('tb') };
}

/** Milliseconds of back-to-back products before each timing on webgpu (clock ramp-up). */
const WARM_MS = 500;

/**
 * ms per product: `reps` products issued back to back, then one read-back (the queue runs them in
 * order). `gpu` is the GPU's busy time from pass timestamps (NaN without them), `wall` the host clock.
 */
async function timeProduct(a: tf.Tensor, b: tf.Tensor, c: MatmulCase, reps: number, warmup: number): Promise<{ gpu: number; wall: number }> {
  const timing = tf.getBackend() === 'webgpu' ? await import('../backend/webgpu_timing.js') : undefined;
  const gpuClock = timing?.gpuTimingAvailable() === true;
  const once = (): tf.Tensor => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, c.transA, c.transB);
  // At least `warmup` products, and on a GPU at least WARM_MS of them: an idle GPU runs at a low
  // clock until it has been busy a while (an H200 idled at 345 MHz of 1,980), and a few short
  // products left the same tfjs kernel timed up to 4x apart between invocations of one GPU call.
  const warmUntil = performance.now() + (tf.getBackend() === 'webgpu' ? WARM_MS : 0);
  for (let i = 0; i < warmup || performance.now() < warmUntil; i++) {
    const y = once();
    await y.data();
    y.dispose();
  }
  if (gpuClock) timing!.startGpuTiming();
  const t0 = performance.now();
  let last: tf.Tensor | undefined;
  for (let i = 0; i < reps; i++) {
    last?.dispose();
    last = once();
  }
  // Reading one element waits for every product before it on the queue.
  const probe = tf.slice(last!.reshape([-1]), 0, 1);
  await probe.data();
  const wall = (performance.now() - t0) / reps;
  tf.dispose([probe, last!]);
  // The probe's slice is one more (tiny) dispatch inside the timed passes.
  const gpu = gpuClock ? (await timing!.stopGpuTiming()).gpu_busy_ms / reps : NaN;
  return { gpu, wall };
}

async function maxRelDiff(x: tf.Tensor, y: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(x, y))), tf.max(tf.abs(y))));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
}

export async function benchMatmul(cases: MatmulCase[], backend: { backend: string; device: string }, reps: number, warmup: number, tiles: readonly string[] = []): Promise<MatmulResult[]> {
  const kernels = backend.backend === 'webgpu' ? await import('../backend/kernels/matmul_webgpu.js') : undefined;
  const tiledOn = kernels?.tiledMatmulRegistered() === true;
  const out: MatmulResult[] = [];
  for (const c of cases) {
    const flop = 2 * c.batch * c.M * c.N * c.K;
    const r3 = (x: number): number => Number(x.toPrecision(3));
    const tf3 = (t: { gpu: number; wall: number }): MatmulTiming => {
      const ms = Number.isFinite(t.gpu) ? t.gpu : t.wall;
      return { ms: r3(ms), tflops: r3(flop / (ms * 1e-3) / 1e12), wall_ms: r3(t.wall) };
    };
    const a = tf.randomNormal(c.transA ? [c.batch, c.K, c.M] : [c.batch, c.M, c.K], 0, 1, 'float32', 1);
    const b = tf.randomNormal(c.transB ? [c.batch, c.N, c.K] : [c.batch, c.K, c.N], 0, 1, 'float32', 2);
    const timing = backend.backend === 'webgpu' ? await import('../backend/webgpu_timing.js') : undefined;
    const base = { ...c, backend: backend.backend, device: backend.device, flop, clock: (timing?.gpuTimingAvailable() === true ? 'gpu' : 'wall') as 'gpu' | 'wall' };
    try {
      kernels?.setTiledMatmul(false);
      const tfjsMs = await timeProduct(a, b, c, reps, warmup);
      const ref = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, c.transA, c.transB);
      let result: MatmulResult = { ...base, tfjs: tf3(tfjsMs) };
      if (tiledOn) {
        kernels!.setTiledMatmul(true);
        const tiledMs = await timeProduct(a, b, c, reps, warmup);
        const got = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, c.transA, c.transB);
        result = { ...result, tiled: tf3(tiledMs), max_rel_diff: await maxRelDiff(got, ref) };
        got.dispose();
        const dims = { batch: c.batch, batchA: c.batch, batchB: c.batch, M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB };
        if (kernels!.tiledMatmulApplies(dims)) {
          result.tile = kernels!.pickTile(dims);
          // Each forced tile on the same inputs (pickTile reads METALA_MATMUL_TILE at every product).
          const forced = process.env['METALA_MATMUL_TILE'];
          const sweep: NonNullable<MatmulResult['tiles']> = {};
          try {
            for (const t of tiles) {
              process.env['METALA_MATMUL_TILE'] = t;
              const ms = await timeProduct(a, b, c, reps, warmup);
              const y = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, c.transA, c.transB);
              sweep[t] = { ...tf3(ms), max_rel_diff: await maxRelDiff(y, ref) };
              y.dispose();
            }
          } finally {
            if (forced === undefined) delete process.env['METALA_MATMUL_TILE'];
            else process.env['METALA_MATMUL_TILE'] = forced;
          }
          if (tiles.length > 0) result.tiles = sweep;
        }
      }
      ref.dispose();
      out.push(result);
    } catch (e) {
      out.push({ ...base, tfjs: { ms: NaN, tflops: NaN }, error: (e as Error).message.split('\n')[0] });
    } finally {
      kernels?.setTiledMatmul(true);
      tf.dispose([a, b]);
    }
  }
  return out;
}

/** Reference lines (JSON per line, `{spec, framework, dtype, ms, tflops}`) attached by spec. */
export function attachMatmulReference(results: MatmulResult[], lines: string, file: string): MatmulResult[] {
  const refs = new Map<string, NonNullable<MatmulResult['reference']>>();
  lines.split('\n').forEach((l, i) => {
    if (!l.trim().startsWith('{')) return;
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new MetalaError(`${file}: line ${i + 1}: not JSON. Give the output of src/bench/reference/torch_matmul.py`, 2);
    }
    if (typeof j['spec'] !== 'string' || typeof j['ms'] !== 'number') throw new MetalaError(`${file}: line ${i + 1}: needs spec and ms. Give the output of src/bench/reference/torch_matmul.py`, 2);
    refs.set(j['spec'], { framework: String(j['framework'] ?? 'unknown'), dtype: String(j['dtype'] ?? 'unknown'), ms: j['ms'], tflops: Number(j['tflops'] ?? NaN) });
  });
  return results.map((r) => (refs.has(r.spec) ? { ...r, reference: refs.get(r.spec)! } : r));
}

export function matmulTable(rows: MatmulResult[]): string {
  const f = (t: MatmulTiming | undefined): string => (t === undefined ? '' : `${t.ms} ms, ${t.tflops} TFLOP/s`);
  const lines = ['| product | tfjs | metala tiled | reference | tiled / tfjs | tiled / reference | max rel diff | fastest forced tile |', '| --- | --- | --- | --- | ---: | ---: | ---: | --- |'];
  for (const r of rows) {
    if (r.error !== undefined) {
      lines.push(`| ${r.spec} | error: ${r.error} | | | | | | |`);
      continue;
    }
    const ref = r.reference !== undefined ? `${r.reference.framework} ${r.reference.dtype}: ${f(r.reference)}` : '';
    const speed = r.tiled !== undefined ? `${(r.tfjs.ms / r.tiled.ms).toFixed(2)}×` : '';
    const vsRef = r.tiled !== undefined && r.reference !== undefined ? `${(r.reference.ms / r.tiled.ms).toFixed(2)}` : '';
    const best = Object.entries(r.tiles ?? {}).sort((x, y) => x[1].ms - y[1].ms)[0];
    const tiled = r.tiled !== undefined && r.tile !== undefined ? `${f(r.tiled)} (${r.tile})` : f(r.tiled);
    lines.push(`| ${r.spec} | ${f(r.tfjs)} | ${tiled} | ${ref} | ${speed} | ${vsRef} | ${r.max_rel_diff !== undefined ? r.max_rel_diff.toExponential(1) : ''} | ${best !== undefined ? `${best[0]}: ${f(best[1])}` : ''} |`);
  }
  return lines.join('\n');
}
