// The backend-specific kernels of src/backend/kernels on a real WebGPU device: the fused gated
// recurrence (forward, both backward kernels, the split/partial-sum paths), simpleGla through it,
// the sorted-segment-sum embedding gradient, and the uncaptured-error check. Runs where Dawn finds
// an adapter (the H100; CI's software Vulkan, lavapipe from Mesa ≥ 25, which .ci/run installs);
// elsewhere the suite is skipped and says why. References are the naive forms on the same device,
// themselves checked against ../shared/golden on cpu (test/ops).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseGpuPool, shutdownBackend, takeGpuError } from '../../src/backend/index.js';
import { glaFused, glaNaive } from '../../src/ops/gated_recurrence/index.js';
import { simpleGla } from '../../src/ops/simple_gla/index.js';
import { rwkv4, rwkv4Fused, rwkv4Naive } from '../../src/ops/rwkv4/index.js';
import { selectiveScan } from '../../src/ops/selective_scan/index.js';
import { embedLookup } from '../../src/layers/embedding.js';
import { causalConv1d } from '../../src/layers/short_conv.js';
import { layerNorm, rmsNorm } from '../../src/layers/basic.js';
import { NORM_BWD, NORM_FWD, normLaunch } from '../../src/layers/norm_webgpu.js';
import type { ResolvedOptions } from '../../src/ops/index.js';
import { gla } from '../../src/ops/index.js';
import { goldenTensor, loadGolden } from '../ops/harness.js';
import { CausalLM } from '../../src/models/lm.js';
import type { Classified } from '../../src/models/types.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { GpuBufferLimitError } from '../../src/util/errors.js';
import { maxRel } from '../helpers/close.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu kernel tests');


describe.skipIf(why !== undefined)('webgpu kernels', () => {
  const [B, T, H, K, V] = [2, 23, 3, 16, 32];
  const r = (s: number[], seed: number): tf.Tensor => tf.randomNormal(s, 0, 1, 'float32', seed);
  let q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, h0: tf.Tensor4D, dO: tf.Tensor4D, dS: tf.Tensor4D;
  beforeAll(() => {
    [q, k, v, h0, dO, dS] = [r([B, T, H, K], 1), r([B, T, H, K], 2), r([B, T, H, V], 3), r([B, H, K, V], 5), r([B, T, H, V], 6), r([B, H, K, V], 7)] as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    g = tf.tidy(() => tf.div(tf.logSigmoid(tf.add(r([B, T, H, K], 4), 2)), 4)) as tf.Tensor4D;
  });
  afterAll(async () => {
    tf.dispose([q, k, v, g, h0, dO, dS]);
    await shutdownBackend();
  });

  const opts = (wantState: boolean, initialState?: tf.Tensor4D): ResolvedOptions => ({ scale: 0.3, initialState, wantState, chunkSize: 16, statePass: 'loop' });

  for (const wantState of [true, false]) {
    for (const splits of [{ kb: 1, vb: 1 }, { kb: 2, vb: 4 }, { kb: 4, vb: 2 }]) {
      it(`gla fused = naive: outputs and all five gradients (wantState ${wantState}, kb ${splits.kb}, vb ${splits.vb})`, async () => {
        const loss = (form: 'fused' | 'naive') => (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, gg: tf.Tensor, hh: tf.Tensor): tf.Scalar => {
          const o = opts(wantState, hh as tf.Tensor4D);
          const x = form === 'fused' ? glaFused(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, gg as tf.Tensor4D, o, splits) : glaNaive(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, gg as tf.Tensor4D, o);
          const l = tf.sum(tf.mul(x.o, dO));
          return (wantState ? tf.add(l, tf.sum(tf.mul(x.finalState!, dS))) : l) as tf.Scalar;
        };
        const got = tf.grads(loss('fused'))([q, k, v, g, h0]);
        const want = tf.grads(loss('naive'))([q, k, v, g, h0]);
        for (let i = 0; i < 5; i++) expect(maxRel(await got[i]!.data(), await want[i]!.data())).toBeLessThan(2e-6);
        const fo = glaFused(q, k, v, g, opts(true, h0), splits);
        const no = glaNaive(q, k, v, g, opts(true, h0));
        expect(maxRel(await fo.o.data(), await no.o.data())).toBeLessThan(2e-6);
        expect(maxRel(await fo.finalState!.data(), await no.finalState!.data())).toBeLessThan(2e-6);
        tf.dispose([...got, ...want, fo.o, fo.finalState!, no.o, no.finalState!]);
        expect(await takeGpuError()).toBeUndefined();
      });
    }
  }

  for (const op of ['gla', 'simple_gla'] as const) {
    it(`${op}: the fused form reproduces ../shared/golden/ops/${op}.json (float64 reference)`, async () => {
      const gd = loadGolden(op);
      const x = Object.fromEntries(Object.entries(gd.inputs).map(([n, t]) => [n, goldenTensor(t)]));
      const dO = goldenTensor(gd.cotangents.do);
      const dF = goldenTensor(gd.cotangents.dfinal_state);
      const names = ['q', 'k', 'v', 'g'];
      const run = (...xs: tf.Tensor[]) => {
        const [qq, kk, vv, gg] = xs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor];
        return op === 'gla' ? gla(qq, kk, vv, gg as tf.Tensor4D, { form: 'fused' }) : simpleGla(qq, kk, vv, gg as tf.Tensor3D, { form: 'fused' });
      };
      const out = run(...names.map((n) => x[n]!));
      expect(maxRel(await out.o.data(), gd.outputs.o.data)).toBeLessThan(1e-5);
      expect(maxRel(await out.finalState!.data(), gd.outputs.final_state.data)).toBeLessThan(1e-5);
      const grads = tf.grads((...xs: tf.Tensor[]) => {
        const y = run(...xs);
        return tf.add(tf.sum(tf.mul(y.o, dO)), tf.sum(tf.mul(y.finalState!, dF))) as tf.Scalar;
      })(names.map((n) => x[n]!));
      for (const [i, n] of names.entries()) expect(maxRel(await grads[i]!.data(), gd.grads[n]!.data), n).toBeLessThan(1e-4);
      tf.dispose([...Object.values(x), dO, dF, out.o, out.finalState!, ...grads]);
    });
  }

  it('is the default gla form on webgpu and leaks no tensor', async () => {
    const gs = tf.tidy(() => tf.div(tf.logSigmoid(tf.add(r([B, T, H], 8), 2)), 4)) as tf.Tensor3D;
    const n0 = tf.memory().numTensors;
    const a = simpleGla(q, k, v, gs, { initialState: h0 });
    const b = simpleGla(q, k, v, gs, { initialState: h0, form: 'naive' });
    expect(maxRel(await a.o.data(), await b.o.data())).toBeLessThan(2e-6);
    tf.dispose([a.o, a.finalState, b.o, b.finalState]);
    expect(tf.memory().numTensors).toBe(n0);
    gs.dispose();
  });

  // k spans ±30 (e^{k} alone over- or underflows float32 far sooner than the running max does).
  for (const kScale of [1, 30]) {
    it(`rwkv4 fused = naive: wkv and the gradients of k, v, w, u (|k| up to ${3 * kScale})`, async () => {
      const [Bw, Tw, Dw] = [3, 37, 20];
      const kw = tf.tidy(() => tf.mul(r([Bw, Tw, Dw], 11), kScale)) as tf.Tensor3D;
      const vw = r([Bw, Tw, Dw], 12) as tf.Tensor3D;
      const ww = tf.tidy(() => tf.exp(r([Dw], 13))) as tf.Tensor1D;
      const uw = r([Dw], 14) as tf.Tensor1D;
      const dy = r([Bw, Tw, Dw], 15);
      const none = { initialState: undefined, wantState: false, chunkSize: 8 };
      const loss = (fused: boolean) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul((fused ? rwkv4Fused : rwkv4Naive)(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor1D, d as tf.Tensor1D, none).o, dy));
      const got = tf.grads(loss(true))([kw, vw, ww, uw]);
      const want = tf.grads(loss(false))([kw, vw, ww, uw]);
      for (let i = 0; i < 4; i++) expect(maxRel(await got[i]!.data(), await want[i]!.data()), ['dk', 'dv', 'dw', 'du'][i]).toBeLessThan(3e-5);
      const n0 = tf.memory().numTensors;
      const fo = rwkv4(kw, vw, ww, uw, { wantState: false }); // the default form for training on webgpu
      const no = rwkv4Naive(kw, vw, ww, uw, none);
      expect(maxRel(await fo.o.data(), await no.o.data())).toBeLessThan(2e-6);
      tf.dispose([fo.o, no.o]);
      expect(tf.memory().numTensors).toBe(n0);
      expect(() => rwkv4(kw, vw, ww, uw, { form: 'fused' })).toThrow(/no initial state and returns no final state/);
      tf.dispose([kw, vw, ww, uw, dy, ...got, ...want]);
      expect(await takeGpuError()).toBeUndefined();
    });
  }

  // [B, T, E, N]: E = 24 runs workgroups of 8 channels (3 partial sums for dB, dC), E = 128 two
  // of 64 (Mamba at d_model 64); T is not a multiple of the checkpoint interval.
  for (const [Bs, Ts, Es, Ns] of [[2, 21, 24, 5], [2, 11, 128, 16]] as const) {
    it(`selective scan fused = naive: y and the gradients of x, Δ, A, B, C (B ${Bs}, T ${Ts}, E ${Es}, N ${Ns})`, async () => {
      const x = r([Bs, Ts, Es], 21) as tf.Tensor3D;
      const delta = tf.tidy(() => tf.softplus(tf.sub(r([Bs, Ts, Es], 22), 1))) as tf.Tensor3D;
      const A = tf.tidy(() => tf.neg(tf.exp(tf.mul(r([Es, Ns], 23), 0.5)))) as tf.Tensor2D;
      const bm = r([Bs, Ts, Ns], 24) as tf.Tensor3D;
      const cm = r([Bs, Ts, Ns], 25) as tf.Tensor3D;
      const skip = r([Es], 26) as tf.Tensor1D;
      const dy = r([Bs, Ts, Es], 27);
      const loss = (form: 'fused' | 'naive') => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(selectiveScan({ x: a as tf.Tensor3D, delta: b as tf.Tensor3D, A: c as tf.Tensor2D, b: d as tf.Tensor3D, c: e as tf.Tensor3D, skip }, { form, wantState: false }).y, dy));
      const got = tf.grads(loss('fused'))([x, delta, A, bm, cm]);
      const want = tf.grads(loss('naive'))([x, delta, A, bm, cm]);
      for (let i = 0; i < 5; i++) expect(maxRel(await got[i]!.data(), await want[i]!.data()), ['dx', 'dΔ', 'dA', 'dB', 'dC'][i]).toBeLessThan(2e-5);
      const n0 = tf.memory().numTensors;
      const fo = selectiveScan({ x, delta, A, b: bm, c: cm, skip }, { wantState: false }); // the default on webgpu
      const no = selectiveScan({ x, delta, A, b: bm, c: cm, skip }, { form: 'naive', wantState: false });
      expect(maxRel(await fo.y.data(), await no.y.data())).toBeLessThan(2e-6);
      tf.dispose([fo.y, no.y]);
      expect(tf.memory().numTensors).toBe(n0);
      expect(() => selectiveScan({ x, delta, A, b: bm, c: cm }, { form: 'fused' })).toThrow(/no initial state and returns no final state/);
      tf.dispose([x, delta, A, bm, cm, skip, dy, ...got, ...want]);
      expect(await takeGpuError()).toBeUndefined();
    });
  }

  // The fused kernels are what the models run when training on webgpu (a regression here costs
  // speed, not correctness, so only a kernel list shows it); decoding with state keeps the other forms.
  for (const [mixer, fwd, bwd] of [['mamba', 'MetalaSelectiveScanFwd', 'MetalaSelectiveScanBwd'], ['rwkv4', 'MetalaRwkv4Fwd', 'MetalaRwkv4Bwd']] as const) {
    it(`a ${mixer} LM trains through its fused kernels on webgpu`, async () => {
      const cfg = lmSchema.parse({ d_model: 16, n_layers: 1, vocab_size: 24, mixer: { name: mixer }, channel_mixer: { name: 'glu' }, max_seq_len: 12 });
      const m = new CausalLM(cfg as LmConfig, 1);
      const batch = { ids: Int32Array.from({ length: 24 }, (_, i) => (i * 7 + 3) % 24), labels: Int32Array.from({ length: 24 }, (_, i) => (i * 5) % 24), batch: 2, seqLen: 12 };
      const prof = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum((m.supervised(batch) as Classified).logits));
        tf.dispose([value, ...Object.values(grads)]);
      });
      const names = new Set(prof.kernels.map((k) => k.name));
      expect(names.has(fwd) && names.has(bwd), [...names].join(',')).toBe(true);
      m.dispose();
    });
  }

  // B·T = 3·45 rows: three dw blocks of 64 rows, the last partial; with and without a cache.
  for (const c of [2, 4]) {
    for (const withCache of [false, true]) {
      it(`causal conv fused = tfjs ops: y, cache and the gradients of x, w${withCache ? ', cache' : ''} (c ${c})`, async () => {
        const [Bc, Tc, Dc] = [3, 45, 10];
        const x = r([Bc, Tc, Dc], 31) as tf.Tensor3D;
        const w = r([c, Dc], 32) as tf.Tensor2D;
        const cache = withCache ? (r([Bc, c - 1, Dc], 33) as tf.Tensor3D) : undefined;
        const dy = r([Bc, Tc, Dc], 34);
        const dc = r([Bc, c - 1, Dc], 35);
        const loss = (fused: boolean) => (a: tf.Tensor, b: tf.Tensor, h?: tf.Tensor): tf.Scalar => {
          const o = causalConv1d(a as tf.Tensor3D, b as tf.Tensor2D, h as tf.Tensor3D | undefined, fused);
          return tf.add(tf.sum(tf.mul(o.y, dy)), tf.sum(tf.mul(o.cache, dc))) as tf.Scalar;
        };
        const h = cache ?? tf.zeros([Bc, c - 1, Dc]);
        const inputs = withCache ? [x, w, h] : [x, w];
        const got = tf.grads(loss(true))(inputs);
        const want = tf.grads(loss(false))(inputs);
        for (let i = 0; i < (withCache ? 3 : 2); i++) expect(maxRel(await got[i]!.data(), await want[i]!.data()), ['dx', 'dw', 'dcache'][i]).toBeLessThan(2e-6);
        const a = tf.tidy(() => causalConv1d(x, w, cache)); // the default on webgpu
        const b = tf.tidy(() => causalConv1d(x, w, cache, false));
        expect(maxRel(await a.y.data(), await b.y.data())).toBeLessThan(2e-6);
        expect(Array.from(await a.cache.data())).toEqual(Array.from(await b.cache.data()));
        tf.dispose([a.y, a.cache, b.y, b.cache]);
        tf.dispose([x, w, h, dy, dc, ...got, ...want]);
        expect(await takeGpuError()).toBeUndefined();
      });
    }
  }

  // Rows of scale 1e-2 … 1e2 with an offset, so eps and the centring both matter. Rows of D 4 span
  // 1e-1 … 1e1, and the 70,000 rows (D 8) have scale 1: in rows of few elements, small and nearly
  // constant, the op chain's own float32 error (tfjs's mean divides before it sums) passes the
  // tolerance, by the same amount with the one-thread-a-row kernels before. The shapes cut
  // the rows in every way norm_webgpu.ts does (threads per row TPR, workgroup of WG threads, see
  // normLaunch): D 24 (TPR 8 divides D, 16 rows a workgroup), D 37 (TPR 16 does not divide D, rows
  // not a multiple of the 8 a workgroup), D 1000 (TPR 256 = WG, 4 slots a thread, the last
  // partly past the row), D 4 (TPR 1: no reduction steps), D 8 with 70,000 rows (over 65,535).
  for (const [name, norm, eps] of [['rmsNorm', rmsNorm, 1e-6], ['layerNorm', layerNorm, 1e-5]] as const) {
    it(`${name} fused = the plain op chain: value and input gradient (D 24, 37, 1000, 4; 70,000 rows of D 8)`, async () => {
      const plain = (x: tf.Tensor): tf.Tensor => {
        const c = name === 'layerNorm' ? tf.sub(x, tf.mean(x, -1, true)) : x;
        return tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), eps)));
      };
      const loss = (w: tf.Tensor, f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(tf.square(f(t)), w));
      for (const [c, [shape, seed, decades]] of ([[[3, 5, 24], 41, 2], [[3, 5, 37], 43, 2], [[2, 3, 1000], 45, 2], [[3, 5, 4], 47, 1], [[70000, 8], 49, 0]] as const).entries()) {
        const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const x = tf.tidy(() => tf.add(tf.mul(r([...shape], seed), tf.pow(10, tf.linspace(-decades, decades, rows).reshape([...shape.slice(0, -1), 1]))), 0.3));
        const w = r([...shape], seed + 1);
        const got = tf.grad(loss(w, (t) => norm(t, eps)))(x);
        const want = tf.grad(loss(w, plain))(x);
        expect(maxRel(await got.data(), await want.data()), `gradient, ${shape}`).toBeLessThan(1e-5);
        const [a, b] = [norm(x, eps), plain(x)];
        expect(maxRel(await a.data(), await b.data()), `value, ${shape}`).toBeLessThan(1e-6);
        if (c === 0) {
          const prof = await tf.profile(() => tf.dispose(tf.grad(loss(w, (t) => norm(t, eps)))(x)));
          expect(prof.kernels.some((k) => k.name === NORM_FWD) && prof.kernels.some((k) => k.name === NORM_BWD)).toBe(true);
        }
        tf.dispose([x, w, got, want, a, b]);
      }
      expect(await takeGpuError()).toBeUndefined();
    });
  }

  it('fused norm: workgroups taking several rounds of rows give the same bits as one round', async () => {
    // 3,001 rows of D 37: 376 row groups of 8 (16 threads a row); capped at 7 workgroups, 54 rounds, the last partial.
    const [rows, D] = [3001, 37];
    expect(normLaunch(rows, D, 7).iter).toBe(54);
    const x = r([rows * D], 51);
    const dy = r([rows * D], 52);
    const engine = tf.engine();
    for (const centre of [false, true]) {
      const run = (maxWorkgroups?: number): tf.Tensor[] => {
        const attrs = { rows, D, eps: 1e-5, centre, ...(maxWorkgroups === undefined ? {} : { maxWorkgroups }) };
        const f = engine.runKernel(NORM_FWD, { x }, attrs as never) as tf.Tensor;
        const dx = engine.runKernel(NORM_BWD, { y: f.slice(0, rows * D), r: f.slice(rows * D, rows), dy }, attrs as never) as tf.Tensor;
        return [f, dx];
      };
      const [one, many] = [tf.tidy(() => run()), tf.tidy(() => run(7))];
      for (let i = 0; i < 2; i++) expect(Array.from(await many[i]!.data()), ['forward', 'backward'][i]).toEqual(Array.from(await one[i]!.data()));
      tf.dispose([...one, ...many]);
    }
    tf.dispose([x, dy]);
    expect(await takeGpuError()).toBeUndefined();
  });

  it('embedding gradient by sorted segment sum = tf.gather gradient, with a heavily repeated token', async () => {
    const Vocab = 37;
    const ids = Int32Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 0 : (i * 7) % Vocab));
    const table = r([Vocab, 5], 11) as tf.Tensor2D;
    const dy = r([300, 5], 12);
    const a = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedLookup(t as tf.Tensor2D, ids), dy)))(table);
    const b = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d(ids, 'int32')), dy)))(table);
    expect(maxRel(await a.data(), await b.data())).toBeLessThan(1e-6);
    tf.dispose([table, dy, a, b]);
  });

  it('train.recompute through the fused kernels: the same parameter gradients as the plain backward pass', async () => {
    const cfg = lmSchema.parse({ d_model: 16, n_layers: 2, vocab_size: 24, mixer: { name: 'metala', num_heads: 2, key_dim_ratio: 1, conv_size: 2 }, channel_mixer: { name: 'glu' }, max_seq_len: 12 });
    const m = new CausalLM(cfg as LmConfig, 1);
    tf.tidy(() => {
      for (const p of m.params.vars.values()) p.assign(tf.add(p, tf.randomNormal(p.shape, 0, 0.2, 'float32', 9)));
    });
    const batch = {
      ids: Int32Array.from({ length: 24 }, (_, i) => (i * 7 + 3) % 24),
      labels: Int32Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? (i * 5) % 24 : -100)),
      batch: 2,
      seqLen: 12,
    };
    const vars = [...m.params.vars.values()];
    const gradsOf = async (recomputeBlocks: boolean): Promise<Map<string, Float32Array>> => {
      const { value, grads } = tf.variableGrads(() => {
        const s = m.supervised(batch, { training: true, recompute: recomputeBlocks });
        if (s.kind !== undefined) throw new Error('this small model classifies with whole logits');
        return tf.sum(tf.square(s.logits)) as tf.Scalar;
      }, vars);
      const out = new Map<string, Float32Array>();
      for (const [vn, g] of Object.entries(grads)) out.set(vn, (await g.data()) as Float32Array);
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const plain = await gradsOf(false);
    const n0 = tf.memory().numTensors;
    const re = await gradsOf(true);
    expect(tf.memory().numTensors).toBe(n0);
    expect(re.size).toBe(plain.size);
    for (const [vn, g] of plain) expect(maxRel(re.get(vn)!, g), vn).toBeLessThan(1e-5);
    m.dispose();
  });

  it('releaseGpuPool frees the pool\'s idle buffers and the pool keeps working afterwards', async () => {
    type Mem = tf.MemoryInfo & { numBytesInGPU: number; numBytesAllocatedInGPU: number };
    // Shapes of their own, so these buffers cannot come from an earlier test's free list.
    const a = r([333, 77], 21);
    const b = tf.tidy(() => tf.tanh(tf.matMul(tf.exp(tf.mul(a, 0.1)), tf.transpose(a))));
    const before = await b.data();
    const m0 = tf.memory() as Mem;
    expect(m0.numBytesAllocatedInGPU).toBeGreaterThan(m0.numBytesInGPU);
    const freed = await releaseGpuPool();
    const m1 = tf.memory() as Mem;
    expect(freed).toBe(m0.numBytesAllocatedInGPU - m1.numBytesAllocatedInGPU);
    expect(freed).toBeGreaterThanOrEqual(333 * 77 * 4);
    // Only live tensors (and buffers still in flight) remain; live tensors keep their values.
    expect(m1.numBytesAllocatedInGPU).toBe(m1.numBytesInGPU);
    expect(Array.from(await b.data())).toEqual(Array.from(before));
    // New work allocates again, and a released buffer returns to the (now empty) free list.
    const c = tf.tidy(() => tf.tanh(tf.matMul(tf.exp(tf.mul(a, 0.1)), tf.transpose(a))));
    expect(Array.from(await c.data())).toEqual(Array.from(before));
    c.dispose();
    const m2 = tf.memory() as Mem;
    expect(m2.numBytesAllocatedInGPU).toBeGreaterThan(m2.numBytesInGPU);
    tf.dispose([a, b]);
  });

  it('a kernel whose tensor is over the binding limit is refused before dispatch, naming the op and the shape', async () => {
    const limit = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
    const n = Math.floor(limit / 4) + 1024;
    const before = tf.memory().numTensors;
    expect(() => tf.fill([n], 1)).toThrow(GpuBufferLimitError);
    expect(() => tf.fill([n], 1)).toThrow(new RegExp(`GPU kernel Fill: its output \\[${n}\\] is .* over the device's .*${limit.toLocaleString('en-US')} bytes\\) per-buffer binding limit`));
    expect(tf.memory().numTensors).toBe(before);
    const y = tf.tidy(() => tf.add(tf.ones([2]), 1));
    await y.data();
    y.dispose();
    expect(await takeGpuError()).toBeUndefined();
  });

  it('an uncaptured WebGPU error (a buffer over the size limit) is reported, not silently zero', async () => {
    const device = (tf.backend() as unknown as { device: { limits: { maxBufferSize: number }; createBuffer(d: { size: number; usage: number }): unknown } }).device;
    device.createBuffer({ size: device.limits.maxBufferSize + 4, usage: 128 /* STORAGE */ });
    const y = tf.tidy(() => tf.add(tf.ones([2]), 1));
    await y.data();
    const e = await takeGpuError();
    expect(e).toMatch(/max buffer size/i);
    expect(e).toMatch(/train\.micro_batch_size/);
    y.dispose();
  });
});
