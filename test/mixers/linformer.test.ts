// Independent numerical checks of the LinFormer-family and delta-rule mixers (gla, linear_attn,
// retnet, transnormer, based, deltanet, gated_deltanet): direct O(T²) references, the published
// constants (RetNet decays, ALiBi slopes, Taylor feature map), recurrent = parallel for non-default
// options the registry contract does not cover, and a tiny LM training run per mixer.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { MIXERS } from '../../src/mixers/registry.js';
import type { MixerDef, MixerState, TokenMixer } from '../../src/mixers/types.js';
import { Params } from '../../src/layers/params.js';
import { layerNorm, silu } from '../../src/layers/basic.js';
import { applyRotary } from '../../src/layers/rotary.js';
import { retnetGammas, rotaryAt } from '../../src/mixers/retnet.js';
import { alibiSlopes, transnormerLogDecay } from '../../src/mixers/transnormer.js';
import { taylorFeatures, taylorSize } from '../../src/mixers/based.js';
import { l2Normalize } from '../../src/mixers/common.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { AdamW } from '../../src/train/optim.js';
import { supervisedLoss } from '../../src/train/loss.js';
import { MetalaError } from '../../src/util/errors.js';
import { expectClose } from '../helpers/close.js';

const D = 32;
const B = 2;
const T = 9;
const MINE = ['gla', 'linear_attn', 'retnet', 'transnormer', 'based', 'deltanet', 'gated_deltanet'];

beforeAll(async () => {
  await initBackend('cpu');
});

function build(name: string, raw: Record<string, unknown> = {}, seed = 1): { def: MixerDef; mixer: TokenMixer; params: Params; opts: Record<string, unknown> } {
  const def = MIXERS[name]!;
  const params = new Params(seed);
  const opts = def.options.parse(raw) as Record<string, unknown>;
  const mixer = def.create(opts as never, { dModel: D, layer: 0, nLayers: 2, params: params.scope('m'), maxSeqLen: 64 });
  tf.tidy(() => {
    for (const v of params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', seed)));
  });
  return { def, mixer, params, opts };
}

const W = (params: Params, name: string): tf.Variable => params.vars.get(`m.${name}`)!;

describe('linear_attn', () => {
  it('equals the direct O(T²) normalised form φ(q_t)Σφ(k_s)ᵀv_s / (φ(q_t)Σφ(k_s)ᵀ + ε)', async () => {
    const { mixer, params } = build('linear_attn');
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 11) as tf.Tensor3D;
    const got = tf.tidy(() => mixer.forward(x).y);
    const H = 4;
    const hd = D / H;
    const want = tf.tidy(() => {
      const x2 = tf.reshape(x, [B * T, D]);
      const heads = (w: tf.Tensor): tf.Tensor => tf.transpose(tf.reshape(tf.matMul(x2, w), [B, T, H, hd]), [0, 2, 1, 3]); // [B,H,T,hd]
      const q = tf.add(tf.elu(heads(W(params, 'q_proj.weight'))), 1);
      const k = tf.add(tf.elu(heads(W(params, 'k_proj.weight'))), 1);
      const v = heads(W(params, 'v_proj.weight'));
      const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
      const a = tf.mul(tf.matMul(q, k, false, true), mask); // [B,H,T,T]
      const o = tf.div(tf.matMul(a, v), tf.add(tf.sum(a, -1, true), 1e-6));
      return tf.matMul(tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B * T, D]), W(params, 'o_proj.weight'));
    });
    expectClose(await got.data(), await want.data(), { name: 'linear_attn y', rtol: 1e-4 });
    tf.dispose([x, got, want]);
    params.dispose();
  });
});

describe('retnet', () => {
  it('uses γ_h = 1 − 2^{−5−h}', () => {
    expect(retnetGammas(4)).toEqual([1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128, 1 - 1 / 256]);
  });

  it('rotaryAt (tensor positions) equals applyRotary at offsets 0 and 5', async () => {
    const x = tf.randomNormal([B, 4, 2, 8], 0, 1, 'float32', 2) as tf.Tensor4D;
    for (const off of [0, 5]) {
      const a = tf.tidy(() => rotaryAt(x, tf.fill([B], off) as tf.Tensor1D, 10000));
      const b = tf.tidy(() => applyRotary(x, off, 10000));
      expectClose(await a.data(), await b.data(), { name: `rotary offset ${off}`, rtol: 1e-5 });
      tf.dispose([a, b]);
    }
    x.dispose();
  });

  it('equals the parallel retention form (QKᵀ/√d ⊙ D)V with D_ts = γ^{t−s}, GroupNorm, swish gate', async () => {
    const { mixer, params } = build('retnet');
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 12) as tf.Tensor3D;
    const got = tf.tidy(() => mixer.forward(x).y);
    const H = 4;
    const hk = D / H;
    const hv = (2 * D) / H;
    const decay = new Float32Array(H * T * T);
    retnetGammas(H).forEach((g, h) => {
      for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) decay[h * T * T + t * T + s] = g ** (t - s);
    });
    const want = tf.tidy(() => {
      const x2 = tf.reshape(x, [B * T, D]);
      const q = applyRotary(tf.reshape(tf.matMul(x2, W(params, 'q_proj.weight')), [B, T, H, hk]) as tf.Tensor4D);
      const k = applyRotary(tf.reshape(tf.matMul(x2, W(params, 'k_proj.weight')), [B, T, H, hk]) as tf.Tensor4D);
      const v = tf.reshape(tf.matMul(x2, W(params, 'v_proj.weight')), [B, T, H, hv]);
      const a = tf.mul(tf.mul(tf.matMul(tf.transpose(q, [0, 2, 1, 3]), tf.transpose(k, [0, 2, 3, 1])), hk ** -0.5), tf.tensor(decay, [1, H, T, T]));
      const o = layerNorm(tf.transpose(tf.matMul(a, tf.transpose(v, [0, 2, 1, 3])), [0, 2, 1, 3]), 1e-5); // [B,T,H,hv]
      const gated = tf.mul(silu(tf.matMul(x2, W(params, 'g_proj.weight'))), tf.reshape(o, [B * T, 2 * D]));
      return tf.matMul(gated, W(params, 'o_proj.weight'));
    });
    expectClose(await got.data(), await want.data(), { name: 'retnet y', rtol: 2e-4 });
    tf.dispose([x, got, want]);
    params.dispose();
  });
});

describe('transnormer', () => {
  it('uses the ALiBi slopes as decay rates, scaled by depth', () => {
    expect(alibiSlopes(4)).toEqual([0.25, 0.0625, 0.015625, 0.00390625]);
    expect(alibiSlopes(8)[0]).toBe(0.5);
    // Not a power of two: the 4-head slopes, then every other 8-head slope.
    expect(alibiSlopes(6)).toEqual([0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]);
    const top = transnormerLogDecay(4, 3, 4, true);
    expect(top[0]).toBeCloseTo(-0.25 * 1e-5, 12);
    expect(transnormerLogDecay(4, 0, 4, true)[1]).toBeCloseTo(-0.0625 * (1 + 1e-5), 12);
  });
});

describe('based', () => {
  it('Taylor map has 1 + f + f² features and φ(q)·φ(k) = 1 + s + s²/2 with s = q·k/√f', async () => {
    expect(taylorSize(16)).toBe(273);
    const f = 16;
    const q = tf.randomNormal([1, 1, 3, f], 0, 1, 'float32', 3) as tf.Tensor4D;
    const k = tf.randomNormal([1, 1, 3, f], 0, 1, 'float32', 4) as tf.Tensor4D;
    const fq = taylorFeatures(q);
    expect(fq.shape).toEqual([1, 1, 3, 273]);
    const dot = await tf.tidy(() => tf.sum(tf.mul(fq, taylorFeatures(k)), -1)).data();
    const s = await tf.tidy(() => tf.div(tf.sum(tf.mul(q, k), -1), Math.sqrt(f))).data();
    expectClose(dot, Array.from(s, (v) => 1 + v + (v * v) / 2), { name: 'phi(q).phi(k)', rtol: 1e-5 });
    tf.dispose([q, k, fq]);
  });
});

describe('deltanet / gated_deltanet', () => {
  it('L2-normalise q, k to unit norm (fla l2norm)', async () => {
    const n = await tf.tidy(() => tf.norm(l2Normalize(silu(tf.randomNormal([2, 5, 3, 8], 0, 1, 'float32', 6))), 'euclidean', -1)).data();
    for (const v of n) expect(Math.abs(v - 1)).toBeLessThan(1e-4);
  });

  it('gated_deltanet starts with A ∈ (0, 16] and softplus(dt_bias) ∈ [1e-3, 0.1]', async () => {
    const params = new Params(5);
    const def = MIXERS['gated_deltanet']!;
    def.create(def.options.parse({ num_heads: 8 }) as never, { dModel: D, layer: 0, nLayers: 1, params: params.scope('m'), maxSeqLen: 16 });
    const a = await tf.exp(W(params, 'A_log')).data();
    const dt = await tf.softplus(W(params, 'dt_bias')).data();
    for (const v of a) expect(v > 0 && v <= 16).toBe(true);
    for (const v of dt) expect(v >= 1e-3 * 0.999 && v <= 0.1 * 1.001).toBe(true);
    params.dispose();
  });
});

describe('options beyond the defaults: recurrent = parallel and the parameter formula', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['gla', { num_heads: 2, key_dim_ratio: 1, use_short_conv: true, conv_size: 2, norm: 'layernorm', output_gate_bias: true }],
    ['linear_attn', { feature_map: 'relu', num_heads: 2 }],
    ['retnet', { head_norm: 'rmsnorm', value_dim_ratio: 1 }],
    ['transnormer', { lrpe: true, feature_map: 'elu1' }],
    ['based', { window: 3, num_heads: 2, feature_dim: 4 }],
    ['deltanet', { use_gate: true, qk_activation: 'elu', qk_norm: 'sum', use_short_conv: false }],
    ['gated_deltanet', { allow_neg_eigval: true, key_dim_ratio: 1, expand_v: 1, use_gate: false }],
  ];
  it.each(cases)('%s %j', async (name, raw) => {
    const { def, mixer, params, opts } = build(name, raw, 4);
    expect(params.count()).toBe(def.paramCount(opts as never, D));
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 8) as tf.Tensor3D;
    const full = await tf.tidy(() => mixer.forward(x).y).array();
    let state: MixerState | undefined;
    let maxErr = 0;
    for (let t = 0; t < T; t++) {
      const r = tf.tidy(() => {
        const o = mixer.forward(tf.slice(x, [0, t, 0], [B, 1, D]) as tf.Tensor3D, { state, wantState: true });
        return { y: o.y, state: o.state! };
      });
      for (const s of Object.values(state ?? {})) s.dispose();
      state = r.state;
      const yt = (await r.y.array()) as number[][][];
      r.y.dispose();
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) maxErr = Math.max(maxErr, Math.abs(yt[b]![0]![d]! - full[b]![t]![d]!));
    }
    for (const s of Object.values(state ?? {})) s.dispose();
    expect(maxErr).toBeLessThan(2e-4);
    x.dispose();
    params.dispose();
  });

  it('rejects widths that do not split into heads with a one-line MetalaError', () => {
    const params = new Params(1);
    const def = MIXERS['gla']!;
    const make = (): unknown => def.create(def.options.parse({ num_heads: 3 }) as never, { dModel: D, layer: 0, nLayers: 1, params: params.scope('m'), maxSeqLen: 8 });
    expect(make).toThrow(MetalaError);
    expect(make).toThrow(/model\.mixer: gla: key dim 16 \(d_model 32\) does not split into num_heads 3/);
    params.dispose();
  });
});

describe('each mixer trains in the LM backbone', () => {
  const V = 16;
  const L = 12;
  const NB = 4;
  // A fixed batch of periodic sequences: next-token prediction is learnable from context.
  const ids = new Int32Array(NB * L);
  const labels = new Int32Array(NB * L);
  for (let b = 0; b < NB; b++) for (let t = 0; t < L; t++) ids[b * L + t] = (3 * b + [1, 5, 2, 7][t % 4]!) % V;
  for (let b = 0; b < NB; b++) for (let t = 0; t < L; t++) labels[b * L + t] = t + 1 < L ? ids[b * L + t + 1]! : -100;
  const batch = { ids, labels, batch: NB, seqLen: L };

  it.each(MINE)('%s: 10 AdamW steps reduce the loss on a fixed batch', async (name) => {
    const config = { ...lmSchema.parse({ d_model: D, n_layers: 1, vocab_size: V, mixer: { name }, max_seq_len: L }), vocab_size: V } as LmConfig;
    const model = new CausalLM(config, 7);
    const optim = new AdamW(model.params, { betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.01 });
    const vars = [...model.params.vars.values()];
    const losses: number[] = [];
    for (let step = 0; step < 10; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const s = model.supervised(batch, { training: true });
        return supervisedLoss(s);
      }, vars);
      const named: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) named[model.params.byVarName.get(vn)!] = g;
      if (step === 0) {
        // The loss must reach the token mixer, not only the embeddings, GLU and head.
        const mixerGrad = tf.tidy(() => tf.addN(Object.entries(named).filter(([n]) => n.includes('token_mixer')).map(([, g]) => tf.sum(tf.abs(g)))));
        expect((await mixerGrad.data())[0]!).toBeGreaterThan(0);
        mixerGrad.dispose();
      }
      const gn = optim.step(named, 1e-2, 1);
      losses.push((await value.data())[0]!);
      tf.dispose([value, gn, ...Object.values(grads)]);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[9]!).toBeLessThan(losses[0]! - 0.3);
    if (process.env['LOSS_LOG'] === '1') console.log(name, losses.map((l) => l.toFixed(3)).join(' '));
    optim.dispose();
    model.dispose();
  });
});
