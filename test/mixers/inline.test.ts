// InLine attention beyond the registry contract and the golden fixtures: the non-causal form with and
// without the local residual (attention weights (s/N)(qᵀk_j − qᵀk̄) + 1/N checked in float64; the class
// token's residual-free row; `cls_token: auto`), our causal variant (the same formula over each
// prefix; prefill + decode = one pass; its last row = the non-causal one), and a ViT running it single-pass.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Params } from '../../src/layers/params.js';
import { inline } from '../../src/mixers/inline.js';
import type { MixerState, TokenMixer } from '../../src/mixers/types.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { vitParamCount, vitSchema, type VitConfig } from '../../src/models/vit_config.js';
import type { Batch } from '../../src/tasks/types.js';
import { maxRel } from '../helpers/close.js';

const D = 16;
const H = 2;
const B = 2;

beforeAll(async () => {
  await initBackend('cpu');
});

/** Both forms on one parameter set (a second build on the same scope reuses the first one's variables). */
function build(extra: Record<string, unknown>, seed = 3) {
  const params = new Params(seed);
  const opts = inline.options.parse({ num_heads: H, ...extra });
  const ctx = { dModel: D, layer: 0, nLayers: 1, params: params.scope(''), maxSeqLen: 64 };
  const nonCausal = inline.createNonCausal!(opts as never, ctx);
  const causal = inline.create(opts as never, ctx);
  tf.tidy(() => {
    for (const v of params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', seed + 1)));
  });
  expect(params.count()).toBe(inline.paramCount(opts as never, D));
  return { params, nonCausal, causal };
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
const rows = (t: tf.Tensor, from: number, n: number): tf.Tensor => tf.slice(t, [0, from, 0], [t.shape[0]!, n, t.shape[2]!]);

/**
 * InLine without the residual in float64: o_t = Σ_{i<L} w_ti v_i with w_ti = (s/L)(q_t·k_i − q_t·k̄) + 1/L,
 * L = t + 1 (causal) or T, then proj. φ = identity.
 */
function naive(params: Params, x: tf.Tensor3D, causal: boolean): Float64Array {
  const [Bn, T] = x.shape;
  const get = (n: string): Float32Array => params.vars.get(n)!.dataSync() as Float32Array;
  const [wqkv, bqkv, wp, bp] = [get('qkv.weight'), get('qkv.bias'), get('proj.weight'), get('proj.bias')];
  const xs = x.dataSync();
  const d = D / H;
  const s = 1 / Math.sqrt(d);
  const out = new Float64Array(Bn * T * D);
  for (let b = 0; b < Bn; b++) {
    const qkv = Array.from({ length: T }, (_, t) =>
      Array.from({ length: 3 * D }, (_, j) => {
        let a = bqkv[j]!;
        for (let i = 0; i < D; i++) a += xs[(b * T + t) * D + i]! * wqkv[i * 3 * D + j]!;
        return a;
      }),
    );
    for (let t = 0; t < T; t++) {
      const L = causal ? t + 1 : T;
      const o = new Float64Array(D);
      for (let h = 0; h < H; h++) {
        const q = (u: number, c: number): number => qkv[u]![h * d + c]!;
        const k = (u: number, c: number): number => qkv[u]![D + h * d + c]!;
        const kbar = Array.from({ length: d }, (_, c) => Array.from({ length: L }, (_, i) => k(i, c)).reduce((p, e) => p + e, 0) / L);
        let qkbar = 0;
        for (let c = 0; c < d; c++) qkbar += q(t, c) * kbar[c]!;
        for (let i = 0; i < L; i++) {
          let qk = 0;
          for (let c = 0; c < d; c++) qk += q(t, c) * k(i, c);
          const w = (s / L) * (qk - qkbar) + 1 / L;
          for (let c = 0; c < d; c++) o[h * d + c]! += w * qkv[i]![2 * D + h * d + c]!;
        }
      }
      for (let j = 0; j < D; j++) {
        let a = bp[j]!;
        for (let i = 0; i < D; i++) a += o[i]! * wp[i * D + j]!;
        out[(b * T + t) * D + j] = a;
      }
    }
  }
  return out;
}

const relErr = (ours: tf.Tensor, ref: Float64Array): number => maxRel(ours.dataSync(), ref);

describe('inline, non-causal (the authors\' form)', () => {
  it('without the residual: the injective weights, at any T (no grid needed)', () => {
    const { params, nonCausal } = build({ residual: false });
    const x = tf.randomNormal([B, 7, D], 0, 1, 'float32', 5) as tf.Tensor3D;
    const y = nonCausal.forward(x).y;
    expect(relErr(y, naive(params, x, false))).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    params.dispose();
  });

  it('with the residual: patches get it, a class token does not; cls_token auto reads T = side² (+ 1)', () => {
    const on = build({});
    const x = tf.randomNormal([B, 10, D], 0, 1, 'float32', 6) as tf.Tensor3D;
    const ref = naive(on.params, x, false);
    const y = on.nonCausal.forward(x).y;
    // T = 10 = 3² + 1: token 0 is the class token, its row is the attention alone; the 9 patches move.
    const yv = y.dataSync();
    let cls = 0;
    let patch = 0;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < 10; t++)
        for (let j = 0; j < D; j++) {
          const e = Math.abs(yv[(b * 10 + t) * D + j]! - ref[(b * 10 + t) * D + j]!);
          if (t === 0) cls = Math.max(cls, e);
          else patch = Math.max(patch, e);
        }
    expect(cls).toBeLessThan(1e-4);
    expect(patch).toBeGreaterThan(1e-2);
    // Explicit cls_token: true is the same layer; on T = 9 auto means no class token.
    const ctx = { dModel: D, layer: 0, nLayers: 1, params: on.params.scope(''), maxSeqLen: 64 };
    const explicit = inline.createNonCausal!(inline.options.parse({ num_heads: H, cls_token: true }) as never, ctx);
    expect(maxDiff(explicit.forward(x).y, y)).toBeLessThan(1e-6);
    const noCls = inline.createNonCausal!(inline.options.parse({ num_heads: H, cls_token: false }) as never, ctx);
    const x9 = tf.slice(x, [0, 1, 0], [B, 9, D]) as tf.Tensor3D;
    expect(maxDiff(noCls.forward(x9).y, on.nonCausal.forward(x9).y)).toBeLessThan(1e-6);
    expect(relErr(on.nonCausal.forward(x9).y, naive(on.params, x9, false))).toBeGreaterThan(1e-3); // every token gets it
    // Not a grid: a one-line error naming the fix.
    expect(() => on.nonCausal.forward(tf.zeros([1, 7, D]) as tf.Tensor3D)).toThrow(/7 is not a square.*residual: false/);
    expect(() => noCls.forward(x)).toThrow(/10 is not a square/);
    expect(() => on.nonCausal.forward(x, { wantState: true })).toThrow(/non-causal form has no decoding state/);
    tf.dispose([x, x9, y]);
    on.params.dispose();
  });

  it('kernel functions change q and k only (relu, leakyrelu, exp run and differ from identity)', () => {
    const x = tf.randomNormal([B, 9, D], 0, 1, 'float32', 7) as tf.Tensor3D;
    const ys = (['identity', 'relu', 'leakyrelu', 'exp'] as const).map((kernel) => {
      const m = build({ kernel });
      const y = m.nonCausal.forward(x).y;
      m.params.dispose();
      return y;
    });
    for (const y of ys.slice(1)) expect(maxDiff(y, ys[0]!)).toBeGreaterThan(1e-3);
    tf.dispose([x, ...ys]);
  });
});

describe('inline, causal variant (ours)', () => {
  it('is the non-causal formula over each prefix; its last row equals the non-causal one', () => {
    const { params, causal, nonCausal } = build({ residual: false });
    const T = 9;
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 8) as tf.Tensor3D;
    const y = causal.forward(x).y;
    expect(relErr(y, naive(params, x, true))).toBeLessThan(1e-5);
    expect(maxDiff(rows(y, T - 1, 1), rows(nonCausal.forward(x).y, T - 1, 1))).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    params.dispose();
  });

  for (const extra of [{}, { residual: false }, { kernel: 'exp', chunk_size: 4 }, { kernel: 'relu', qkv_bias: false }]) {
    it(`prefill with state + token-by-token decode = one parallel pass (${JSON.stringify(extra)})`, () => {
      const { params, causal } = build(extra);
      const T = 13;
      const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 9) as tf.Tensor3D;
      const full = causal.forward(x).y;
      const pre = causal.forward(rows(x, 0, 6) as tf.Tensor3D, { wantState: true });
      expect(maxDiff(pre.y, rows(full, 0, 6))).toBeLessThan(2e-5);
      let state: MixerState = pre.state!;
      const size = Object.values(state).reduce((n, t) => n + t.size, 0);
      expect(size).toBe(B * inline.stateSize(inline.options.parse({ num_heads: H, ...extra }) as never, D) + 1 - B); // the count is shared
      for (let t = 6; t < T; t++) {
        const r = (causal as TokenMixer).forward(rows(x, t, 1) as tf.Tensor3D, { state, wantState: true });
        expect(maxDiff(r.y, rows(full, t, 1))).toBeLessThan(2e-4);
        state = r.state!;
      }
      params.dispose();
    });
  }
});

describe('inline in the ViT (single_pass)', () => {
  const S = 8;
  const cfg = (pool: 'cls' | 'mean'): VitConfig =>
    vitSchema.parse({
      backbone: 'vit', d_model: 16, n_layers: 2, image_size: S, in_channels: 2, patch_size: 2, num_classes: 5, pool,
      mixer: { name: 'inline', num_heads: 2 }, bidirectional: true, bidirectional_form: 'single_pass',
    }) as VitConfig;
  const batch: Batch = {
    ids: new Int32Array(0), labels: Int32Array.from([0, 3]), batch: 2, seqLen: 1, imageShape: [S, S, 2],
    pixels: Float32Array.from({ length: 2 * S * S * 2 }, (_, i) => Math.sin(i * 0.37)),
  };

  for (const pool of ['cls', 'mean'] as const) {
    it(`runs forward and backward with pool ${pool} (4×4 grid${pool === 'cls' ? ' + class token' : ''}), finite gradients, non-zero where they reach the loss`, () => {
      const c = cfg(pool);
      const m = new VisionTransformer(c, 0);
      expect(m.params.count()).toBe(vitParamCount(c));
      const vars = [...m.params.vars.values()];
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(m.supervised(batch, { training: true }).logits)) as tf.Scalar, vars);
      expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
      for (const [name, g] of Object.entries(grads)) {
        const a = tf.abs(g);
        expect(Number.isFinite(tf.max(a).dataSync()[0]!), name).toBe(true);
        // With the class token read out, the last block's residual reaches nothing (it skips the
        // class token, as in the authors' DeiT): exactly zero gradient there, as in theirs.
        const dead = pool === 'cls' && /^blocks\.1\.token_mixer\.residual\./.test(m.params.byVarName.get(name) ?? '');
        if (dead) expect(tf.sum(a).dataSync()[0]!, name).toBe(0);
        else expect(tf.sum(a).dataSync()[0]!, name).toBeGreaterThan(0);
        a.dispose();
      }
      tf.dispose([value, ...Object.values(grads)]);
      m.dispose();
    });
  }
});
