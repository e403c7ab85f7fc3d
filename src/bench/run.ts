// `metala bench`: training and inference throughput of the LM backbone for chosen mixers ×
// sequence lengths on the current backend. Ratios are only meaningful within one run (machines
// are noisy), so every number of a comparison comes from the same invocation.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CausalLM, Decoder } from '../models/lm.js';
import type { LmConfig } from '../models/lm_config.js';
import { lmSchema } from '../models/lm_config.js';
import { resolveMixer } from '../mixers/registry.js';
import { AdamW } from '../train/optim.js';
import { supervisedLoss } from '../train/loss.js';
import { replicaLosses, stackBatches } from '../train/stacked_batch.js';
import { headCrossEntropy } from '../train/head_cross_entropy.js';
import type { Batch } from '../tasks/types.js';
import type { BackendInfo } from '../backend/index.js';
import { markGpuStep, releaseGpuPool, takeGpuError, takePeakBytesUsed } from '../backend/index.js';
import { leanBackwardOn } from '../backend/lean_backward.js';
import { StepReplay } from '../backend/step_replay.js';
import { atomicWriteFile } from '../results/store.js';

export interface BenchCase {
  mixer: Record<string, unknown> & { name: string };
  d_model: number;
  n_layers: number;
  batch: number;
  seq_len: number;
  vocab_size: number;
  /**
   * Stacked replicas (train.stack): this many copies of the model train as one (own seeds and
   * batches); train_tokens_per_s then counts the tokens of all of them. Absent: one model.
   */
  stack?: number;
  /** train.recompute: each block's forward is replayed in the backward pass instead of kept. */
  recompute?: boolean;
}

export interface BenchResult extends BenchCase {
  backend: string;
  device: string;
  params: number;
  /** Mean over measured steps (fwd + bwd + AdamW, loss read back). */
  train_step_ms: number;
  train_tokens_per_s: number;
  /**
   * Parallel-form forward only, logits read back. A stack whose logits exceed
   * METALA_HEAD_LOGITS_MAX_BYTES forms them in chunks and reads back each replica's loss instead
   * (src/train/head_cross_entropy.ts). NaN (null in the JSON) where inference failed: see infer_error.
   */
  infer_tokens_per_s: number;
  /** Why inference failed (first line); the case's training numbers still stand. */
  infer_error?: string;
  /**
   * Peak bytes held by TF.js tensors during one training step (tf.profile). Reliable on cpu/wasm;
   * on webgpu it over-counts (it sums buffers across the step), so see `gpu_bytes_allocated`.
   */
  peak_bytes: number;
  /** webgpu: bytes of GPU buffers allocated by the backend's pool after the steps (tf.memory()). */
  gpu_bytes_allocated?: number;
  /** webgpu: the most GPU bytes in use at once during one training step (as torch.cuda.max_memory_allocated; the pool's free buffers not counted). */
  gpu_peak_bytes_used?: number;
  /** Whether the lean reverse pass (src/backend/lean_backward.ts, METALA_LEAN_BACKWARD) was on. */
  lean_backward?: boolean;
  /**
   * Step replay (src/backend/step_replay.ts, METALA_STEP_REPLAY) over the timed steps: how many
   * ran their JavaScript (captured) and how many were replayed, and why a captured step could not
   * be replayed. Absent where replay is off or not on webgpu.
   */
  step_replay?: { captured: number; replayed: number; why_not?: string };
  /**
   * Host time to issue one timed step (median, ms): from the step's start to its last submit,
   * before waiting for the GPU — the step's JavaScript, or a replay's re-encoding — and the kernels
   * (dispatches) and queue submits it issued. Webgpu only; with replay on, the median over replayed steps when any.
   */
  host_issue?: {
    ms: number;
    dispatches?: number;
    submits?: number;
    replayed: boolean;
    /** With --profile: one replayed step's GPU time from timestamps per compute pass (busy: Σ passes; span: first start to last end). */
    gpu_busy_ms?: number;
    gpu_span_ms?: number;
  };
  /** webgpu: fused kernel families left out for this case (METALA_NO_FUSED, or `bench --fused-off`). */
  fused_off?: string[];
  /** With `profile`: ms of forward+backward without the optimizer, and of the optimizer alone. */
  phases?: { fwd_bwd_ms: number; optimizer_ms: number };
  /** With `profile`: the kernels that took longest in one training step, aggregated by name and input shapes. */
  kernels?: { name: string; shapes: string; ms: number; calls: number }[];
  /** With `profile`: kernels launched by one training step, and their summed GPU/CPU time. */
  kernel_launches?: number;
  kernel_ms_total?: number;
  /**
   * With `profile` on webgpu: one step as it runs (median of 3), from GPU timestamps per compute
   * pass (src/backend/webgpu_timing.ts) and the host's clock: wall time, the host's time to record
   * the step, the GPU's busy time, GPU launches, and the host time per launch.
   */
  step_timing?: StepTiming;
  /** With `profile`: launches per kernel name in one training step, most first. */
  kernel_calls?: Record<string, number>;
  /**
   * With `decode`: recurrent generation of `tokens` tokens per sequence after a 1-token prompt.
   * live_bytes = bytes held by live tensors (weights + recurrent state) after `at` tokens: flat in
   * `at` for linear mixers, growing for softmax (its state is the KV cache).
   */
  decode?: { tokens: number; tokens_per_s: number; state_floats: number; live_bytes: { at: number; bytes: number }[] };
  /** The same case trained by another framework in the same GPU call (bench --reference). */
  reference?: { framework: string; dtype: string; tokens_per_s: number; peak_gb?: number };
  error?: string;
}

export interface StepTiming {
  step_wall_ms: number;
  host_record_ms: number;
  gpu_busy_ms: number;
  gpu_span_ms: number;
  dispatches: number;
  submits: number;
  host_us_per_dispatch: number;
  /** Dispatches whose bind group came from the dispatch cache (src/backend/webgpu_dispatch.ts). */
  bind_group_hits: number;
  /** Garbage-collection pauses of the main thread while the step was recorded (part of host_record_ms). */
  gc_record_ms: number;
  /** All of the step's garbage-collection pauses, the wait for the GPU included. */
  gc_step_ms: number;
}

/** Times `n` steps one by one with the GPU timer; each field is the median over the steps. */
async function timeSteps(issue: () => tf.Tensor[], n: number): Promise<StepTiming> {
  const { startGpuTiming, stopGpuTiming } = await import('../backend/webgpu_timing.js');
  const { takeDispatchCacheStats } = await import('../backend/webgpu_dispatch.js');
  const { PerformanceObserver } = await import('node:perf_hooks');
  // GC pauses (start, duration) as V8 reports them; the observer is called after the fact, so the
  // step's pauses are read once the step's promise has settled.
  const pauses: { start: number; ms: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, ms: e.duration });
  });
  obs.observe({ entryTypes: ['gc'] });
  const rows: StepTiming[] = [];
  try {
    for (let i = 0; i < n; i++) {
      startGpuTiming();
      takeDispatchCacheStats();
      const t0 = performance.now();
      const ts = issue();
      const t1 = performance.now();
      await ts[0]!.data();
      const t2 = performance.now();
      tf.dispose(ts);
      const g = await stopGpuTiming();
      const cache = takeDispatchCacheStats();
      await new Promise((resolve) => setImmediate(resolve)); // let the observer deliver this step's entries
      const within = (a: number, b: number): number => pauses.filter((p) => p.start >= a && p.start < b).reduce((x, p) => x + p.ms, 0);
      const r = (x: number): number => Math.round(x * 100) / 100;
      const recorded = t1 - t0;
      rows.push({
        bind_group_hits: cache.hits,
        step_wall_ms: r(t2 - t0),
        host_record_ms: r(recorded),
        gpu_busy_ms: g.gpu_busy_ms,
        gpu_span_ms: g.gpu_span_ms,
        dispatches: g.dispatches,
        submits: g.submits,
        host_us_per_dispatch: r((1000 * recorded) / Math.max(1, g.dispatches)),
        gc_record_ms: r(within(t0, t1)),
        gc_step_ms: r(within(t0, t2)),
      });
    }
  } finally {
    obs.disconnect();
  }
  const median = (k: keyof StepTiming): number => rows.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(n / 2)]!;
  const keys = Object.keys(rows[0]!) as (keyof StepTiming)[];
  return Object.fromEntries(keys.map((k) => [k, median(k)])) as unknown as StepTiming;
}

/** Generates `n` tokens per sequence one at a time, sampling live tensor bytes at powers of two. */
export async function benchDecode(model: CausalLM, batch: number, n: number): Promise<NonNullable<BenchResult['decode']>> {
  const dec = new Decoder(model);
  const live: { at: number; bytes: number }[] = [];
  let tok = Array.from({ length: batch }, (_, b) => (b * 31 + 1) % model.config.vocab_size);
  await dec.prefill(tok.map((t) => [t]));
  const t0 = performance.now();
  for (let i = 2; i <= n; i++) {
    const logits = await dec.step(tok);
    // Greedy: the next input is the arg-max (real generation, not a fixed token).
    tok = logits.map((row) => row.reduce((best, v, j) => (v > row[best]! ? j : best), 0));
    if ((i & (i - 1)) === 0 && i >= 16) live.push({ at: i, bytes: tf.memory().numBytes });
  }
  const ms = performance.now() - t0;
  const state = dec.stateFloats();
  dec.dispose();
  return { tokens: n, tokens_per_s: Math.round(((n - 1) * batch * 1000) / ms), state_floats: state, live_bytes: live };
}

async function timeIt(n: number, f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / n;
}

/**
 * Runs f under V8's sampling profiler and writes `<dir>/<name>.cpuprofile` (open it in Chrome
 * DevTools or speedscope): where the host's time per step goes, JS and the native calls it makes.
 */
async function withCpuProfile<T>(dir: string, name: string, f: () => Promise<T>): Promise<T> {
  const { Session } = await import('node:inspector/promises');
  const { mkdir } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    return await f();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await mkdir(dir, { recursive: true });
    await atomicWriteFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}

export async function benchCase(c: BenchCase, backend: BackendInfo, steps: number, warmup: number, profile = false, decode = 0, cpuProfile?: string): Promise<BenchResult> {
  const cfg = lmSchema.parse({
    d_model: c.d_model,
    n_layers: c.n_layers,
    vocab_size: c.vocab_size,
    mixer: { name: c.mixer.name, ...resolveMixer(c.mixer).opts },
    max_seq_len: c.seq_len,
  }) as LmConfig;
  const R = c.stack ?? 1;
  const model = R > 1 ? new CausalLM(cfg, Array.from({ length: R }, (_, r) => r)) : new CausalLM(cfg, 0);
  const optim = new AdamW(model.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
  const B = c.batch;
  const T = c.seq_len;
  /** Replica r's batch: its own ids, next-token labels at every position (the language-modelling cost; MQAR's is lower). */
  const batchOf = (r: number): Batch => {
    const ids = new Int32Array(B * T);
    for (let i = 0; i < ids.length; i++) ids[i] = (i * 7919 + r * 104729) % c.vocab_size;
    const labels = new Int32Array(B * T);
    for (let i = 0; i < labels.length; i++) labels[i] = ids[(i + 1) % ids.length]!;
    return { ids, labels, batch: B, seqLen: T };
  };
  // The training loop's path: supervised() with the ids on the host (the embedding gradient as
  // training computes it), cross-entropy over the labelled rows.
  const batch = R > 1 ? stackBatches(Array.from({ length: R }, (_, r) => batchOf(r))) : batchOf(0);
  const loss = (): tf.Scalar => {
    const s = model.supervised(batch, { training: true, recompute: c.recompute === true });
    return R > 1 ? (tf.sum(replicaLosses(s, R)) as tf.Scalar) : supervisedLoss(s);
  };
  const vars = [...model.params.vars.values()];
  const idsT = tf.tensor2d(batch.ids, [R * B, T], 'int32');
  const lr = R > 1 ? new Array<number>(R).fill(1e-4) : 1e-4;
  const clip = new Array<number>(R).fill(1);
  /** The step's GPU work from the optimizer's last stepInputs: loss and gradient norm, gradients freed. */
  const body = (): tf.Tensor[] => {
    const { value, grads } = tf.variableGrads(loss, vars);
    const named: Record<string, tf.Tensor> = {};
    for (const [vn, g] of Object.entries(grads)) named[model.params.byVarName.get(vn)!] = g;
    const norm = optim.apply(named, clip);
    tf.dispose(Object.values(grads));
    return [value, norm];
  };
  /** Records one training step (nothing waits for the GPU); the loss first. */
  const issueStep = (): tf.Tensor[] => {
    markGpuStep();
    optim.stepInputs(lr);
    return body();
  };
  // As training runs its steps: captured, then replayed while the step repeats (step_replay.ts).
  const replay = new StepReplay();
  const issues: StepReplay['lastIssue'][] = [];
  const trainStep = async (): Promise<void> => {
    await replay.run([batch.ids, batch.labels, ...optim.stepInputs(lr)], body);
    issues.push(replay.lastIssue);
  };
  const infer = async (): Promise<void> => {
    if (R > 1) {
      // A stack has no plain forward (its head reads each replica's rows): the supervised logits, or
      // where those are too large to form at once (4 × 32768 × 8192 floats = 4 GiB at MQAR-128's
      // shape, over WebGPU's 2 GiB binding limit) each replica's loss through the chunked head.
      const l = tf.tidy(() => {
        const s = model.supervised(batch);
        return s.kind === 'head' ? headCrossEntropy(s) : s.logits;
      });
      await l.data();
      l.dispose();
      return;
    }
    const l = tf.tidy(() => model.forward(idsT).logits);
    await l.data();
    l.dispose();
  };
  const base = { ...c, backend: backend.backend, device: backend.device, params: model.params.count(), lean_backward: leanBackwardOn() };
  try {
    // At least `warmup` steps, and on a GPU at least a second of them: an idle GPU clocks up only
    // after a while of work (an H200 idled at 345 MHz of 1,980).
    const warmUntil = performance.now() + (backend.backend === 'webgpu' ? 1000 : 0);
    for (let i = 0; i < warmup || performance.now() < warmUntil; i++) await trainStep();
    takePeakBytesUsed();
    await trainStep();
    const peakUsed = takePeakBytesUsed();
    const replayBefore = { ...replay.stats };
    issues.length = 0;
    const stepMs = cpuProfile === undefined ? await timeIt(steps, trainStep) : await withCpuProfile(cpuProfile, `${c.mixer.name}${R > 1 ? `-x${R}` : ''}-d${c.d_model}-T${T}-B${B}`, () => timeIt(steps, trainStep));
    const replayed = { captured: replay.stats.captured - replayBefore.captured, replayed: replay.stats.replayed - replayBefore.replayed };
    const stepReplay = replay.enabled ? { step_replay: { ...replayed, ...(replay.whyNot !== undefined && replayed.replayed === 0 ? { why_not: replay.whyNot } : {}) } } : {};
    const timed = issues.some((i) => i.replayed) ? issues.filter((i) => i.replayed) : issues;
    const medianOf = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const hostIssue =
      backend.backend === 'webgpu' && timed.length > 0
        ? {
            host_issue: {
              ms: Math.round(medianOf(timed.map((i) => i.ms)) * 100) / 100,
              ...(timed[0]!.dispatches > 0 ? { dispatches: timed[0]!.dispatches } : {}),
              ...(timed[0]!.submits !== undefined ? { submits: timed[0]!.submits } : {}),
              replayed: timed[0]!.replayed,
            },
          }
        : {};
    // Training's GPU errors are its own (they fail the case); inference's only lose its number.
    const trainGpuError = await takeGpuError();
    if (trainGpuError !== undefined) throw new Error(`GPU error: ${trainGpuError}`);
    let inferMs = Number.NaN;
    let inferError: string | undefined;
    try {
      await infer();
      inferMs = await timeIt(steps, infer);
      const gpuError = await takeGpuError();
      if (gpuError !== undefined) throw new Error(`GPU error: ${gpuError}`);
    } catch (e) {
      inferMs = Number.NaN; // a first run that passed and a timed one that failed leave no number
      inferError = (e as Error).message.split('\n')[0];
    }
    const prof = await tf.profile(trainStep);
    let extra: Pick<BenchResult, 'phases' | 'kernels' | 'kernel_launches' | 'kernel_ms_total' | 'kernel_calls' | 'step_timing'> = {};
    if (profile && backend.backend === 'webgpu') extra.step_timing = await timeSteps(issueStep, 3);
    if (profile && hostIssue.host_issue?.replayed === true) {
      // A replayed step's GPU time: replay once to confirm the recording after the profiling above,
      // then once with timestamps around each of its compute passes.
      const { gpuTimingAvailable, startGpuTiming, stopGpuTiming } = await import('../backend/webgpu_timing.js');
      for (let i = 0; i < 3 && (i === 0 || !replay.lastIssue.replayed); i++) await trainStep();
      if (gpuTimingAvailable() && replay.lastIssue.replayed) {
        startGpuTiming();
        await trainStep();
        const g = await stopGpuTiming();
        if (replay.lastIssue.replayed) Object.assign(hostIssue.host_issue, { gpu_busy_ms: g.gpu_busy_ms, gpu_span_ms: g.gpu_span_ms });
      }
    }
    if (profile) {
      const fwdBwd = async (): Promise<void> => {
        const { value, grads } = tf.variableGrads(loss, vars);
        await value.data();
        tf.dispose([value, ...Object.values(grads)]);
      };
      const fwdBwdMs = await timeIt(steps, fwdBwd);
      const agg = new Map<string, { name: string; shapes: string; ms: number; calls: number }>();
      let totalMs = 0;
      for (const k of prof.kernels) {
        const shapes = JSON.stringify(k.inputShapes);
        const key = `${k.name} ${shapes}`;
        const e = agg.get(key) ?? { name: k.name, shapes, ms: 0, calls: 0 };
        const ms = Number(await k.kernelTimeMs) || 0;
        e.ms += ms;
        totalMs += ms;
        e.calls += 1;
        agg.set(key, e);
      }
      const calls = new Map<string, number>();
      for (const k of prof.kernels) calls.set(k.name, (calls.get(k.name) ?? 0) + 1);
      extra = {
        ...extra,
        kernel_launches: prof.kernels.length,
        kernel_calls: Object.fromEntries([...calls].sort((a, b) => b[1] - a[1])),
        kernel_ms_total: Math.round(totalMs * 10) / 10,
        phases: { fwd_bwd_ms: Math.round(fwdBwdMs * 10) / 10, optimizer_ms: Math.round((stepMs - fwdBwdMs) * 10) / 10 },
        kernels: [...agg.values()].sort((a, b) => b.ms - a.ms).slice(0, 40).map((e) => ({ ...e, ms: Math.round(e.ms * 100) / 100 })),
      };
    }
    const gpuError = await takeGpuError();
    if (gpuError !== undefined) throw new Error(`GPU error: ${gpuError}`);
    const mem = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
    const dec = decode > 0 && R === 1 ? { decode: await benchDecode(model, B, decode) } : {};
    return {
      ...extra,
      ...dec,
      ...(mem.numBytesAllocatedInGPU !== undefined ? { gpu_bytes_allocated: mem.numBytesAllocatedInGPU, gpu_peak_bytes_used: peakUsed } : {}),
      ...base,
      ...stepReplay,
      ...hostIssue,
      train_step_ms: Math.round(stepMs * 10) / 10,
      train_tokens_per_s: Math.round((R * B * T * 1000) / stepMs),
      infer_tokens_per_s: Math.round((R * B * T * 1000) / inferMs),
      ...(inferError !== undefined ? { infer_error: inferError } : {}),
      peak_bytes: prof.peakBytes,
    };
  } catch (e) {
    return { ...base, train_step_ms: NaN, train_tokens_per_s: NaN, infer_tokens_per_s: NaN, peak_bytes: NaN, error: (e as Error).message.split('\n')[0] };
  } finally {
    replay.dispose();
    idsT.dispose();
    optim.dispose();
    model.dispose();
    // Each case starts from an empty buffer pool: its gpu_bytes_allocated is its own, and the
    // next mixer can use memory this one's (differently sized, never reused) buffers held.
    await releaseGpuPool();
  }
}
