// ZeroS, zero-sum linear attention (Lu et al., NeurIPS 2025, arXiv 2602.05230), following the
// associative path of SequenceLab `src/sequencelab/layers/zeros.py` (docs/seed-systems.md §1).
// Per head, with s_i = −⟨u_i, ū_i⟩/√d and ū_i = (τμ + Σ_{j≤i} u_j)/(τ + i), the softmax over s minus
// its zero-order piece 1/t, gated (σ¹ first order, σʰ the rest):
//   o_t = q̂_t (α_t F_t + β_t G_t + γ_t H_t),  F = Σ e^{s_i} k̂_i v_iᵀ, G = Σ s_i k̂_i v_iᵀ, H = Σ k̂_i v_iᵀ,
//   α_t = σʰ/E_t, β_t = (σ¹ − σʰ)/t, γ_t = −(β_t P_t + σʰ)/t,  E_t = Σ e^{s_i}, P_t = Σ s_i,
// then a LayerNorm per head and out_proj. Unified form: one zero-decay linear attention with keys
// 3d wide, f_k = [e^{s_i−m} k̂_i, s_i k̂_i, k̂_i], f_q = [α_t q̂_t, β_t q̂_t, γ_t q̂_t], so one simpleGla
// call (g = 0, scale 1) gives all three sums; E and P are two cumulative sums.
import * as tf from '@tensorflow/tfjs';
import { MetalaError } from '../util/errors.js';
import { z } from 'zod';
import { dense, layerNorm, stopGradient } from '../layers/basic.js';
import type { Init, ParamScope } from '../layers/params.js';
import { applyRotaryRepeatedTable } from '../layers/rotary.js';
import { causalLogMask, prefixSum, trilOnes } from '../ops/common/tensor.js';
import { simpleGla } from '../ops/simple_gla/index.js';
import { perHead } from './common.js';
import { defineMixer, type MixerContext, type MixerState, type TokenMixer } from './types.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** Biases on every projection (the reference's `bias`, on in all its runs). */
    bias: z.boolean().default(true),
    /** RoPE on q and k, as the reference codes it (layers/rotary.ts applyRotaryRepeatedTable). */
    rope: z.boolean().default(true),
    rope_base: z.number().positive().default(10000),
    /** Per-head LayerNorm (no affine, eps 1e-5) on the output (`use_norm`). */
    use_norm: z.boolean().default(true),
    /** Restore the zero-order term tanh(g⁰_t) q̂_t H_t / t (`is_first_layer`; off in the paper's runs). */
    first_layer_zero_order: z.boolean().default(false),
    /** `pytorch`: nn.Linear's U(±1/√D) (the reference default); `gpt2`: N(0, 0.02), zero biases, out_proj N(0, 0.02/√(2L)). */
    init: z.enum(['pytorch', 'gpt2']).default('pytorch'),
    /**
     * Causal form: `quadratic` (masked T×T weights with a running-max shift; every output depends on
     * its prefix alone, also in float32) or `linear` (the reference's O(T) scan with the sequence max).
     */
    form: z.enum(['quadratic', 'linear']).default('quadratic'),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

/**
 * Inclusive prefix sum over axis 1 of [B, T, ...] (ops/common/tensor.ts prefixSum: tf.cumsum's
 * gradient is wrong for an inner axis in tfjs 4.22).
 */
function cumsumT(x: tf.Tensor): tf.Tensor {
  const [B, T] = x.shape as [number, number];
  return tf.reshape(prefixSum(tf.reshape(x, [B, T, -1]) as tf.Tensor3D), x.shape);
}

/** x / max(‖x‖₂, 1e-12) over the last axis (F.normalize). */
function unit(x: tf.Tensor): tf.Tensor {
  return tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), -1, true)), 1e-12));
}

/** Index c of the gate's last axis [B, T, H, 3] → [B, T, H]. */
function gatePart(gate: tf.Tensor4D, c: number): tf.Tensor3D {
  const [B, T, H] = gate.shape;
  return tf.reshape(tf.slice(gate, [0, 0, 0, c], [B, T, H, 1]), [B, T, H]) as tf.Tensor3D;
}

/** Output [B, T, H, d] and, when asked, the recurrent state (S [B,H,3d,d] = [F | G | H] rows, E, P, m [B,H]). */
interface CoreResult {
  o: tf.Tensor4D;
  state?: MixerState;
}

/** The readout coefficients α, β, γ [B, H, T] from the gates [B, H, T], E_t, P_t and t. */
function coefficients(s1T: tf.Tensor, shT: tf.Tensor, g0T: tf.Tensor | undefined, E: tf.Tensor, P: tf.Tensor, t: tf.Tensor) {
  const alpha = tf.div(shT, tf.add(E, 1e-12));
  const beta = tf.div(tf.sub(s1T, shT), t);
  let gamma = tf.neg(tf.div(tf.add(tf.mul(beta, P), shT), t));
  // The optional zero-order term: + tanh(g⁰_t) q̂_t H_t / t.
  if (g0T !== undefined) gamma = tf.add(gamma, tf.div(g0T, t));
  return { alpha, beta, gamma };
}

/** The state's three row blocks [B, H, d, d]. */
function stateParts(S: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const [B, H, d3, d] = S.shape;
  const d1 = d3 / 3;
  return [0, 1, 2].map((i) => tf.slice(S, [0, 0, i * d1, 0], [B, H, d1, d])) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
}

/** What both forms of the core read: scores s [B, T, H], heads [B, T, H, d], gate rows (σ¹, σʰ, σ⁰) transposed, steps, state. */
interface CoreInput {
  s: tf.Tensor3D;
  qh: tf.Tensor4D;
  kh: tf.Tensor4D;
  vh: tf.Tensor4D;
  s1T: tf.Tensor;
  shT: tf.Tensor;
  g0T: tf.Tensor | undefined;
  steps: tf.Tensor1D;
  st: MixerState | undefined;
  wantState: boolean;
}

/**
 * The causal training form: masked T×T weights w_{t,i} = (q̂_t·k̂_i)(α_t e^{s_i−m_t} + β_t s_i + γ_t)
 * with a running-max shift m_t = max_{i≤t} s_i. Porting note: the reference shifts by the max over
 * the whole sequence, which cancels exactly in real numbers but not in float32, where the zero-sum
 * cancellation turns its rounding into ~2e-5 changes of earlier outputs when later tokens change; the
 * running max keeps every output a function of its prefix. O(T²) per head (`form: linear` is the
 * O(T) scan with the sequence max).
 */
function quadraticCausal(inp: CoreInput): CoreResult {
  const { s, qh, kh, vh, s1T, shT, g0T, steps, st, wantState } = inp;
  const [B, T, H] = qh.shape;
  const sT = tf.transpose(s, [0, 2, 1]); // [B, H, T]
  const logMask = causalLogMask(T);
  const lower = trilOnes(T);
  let mt = stopGradient(tf.max(tf.add(tf.expandDims(sT, 2), logMask), 3)); // [B, H, T]
  if (st !== undefined) mt = tf.maximum(mt, tf.expandDims(st['m']!, 2));
  const ex = tf.exp(tf.add(tf.sub(tf.expandDims(sT, 2), tf.expandDims(mt, 3)), logMask)); // [B, H, T, T]
  let E = tf.sum(ex, 3);
  let P = tf.transpose(cumsumT(s), [0, 2, 1]);
  const rPrev = st !== undefined ? tf.exp(tf.sub(tf.expandDims(st['m']!, 2), mt)) : undefined; // [B, H, T]
  if (st !== undefined) {
    E = tf.add(E, tf.mul(tf.expandDims(st['E']!, 2), rPrev!));
    P = tf.add(P, tf.expandDims(st['P']!, 2));
  }
  const { alpha, beta, gamma } = coefficients(s1T, shT, g0T, E, P, tf.reshape(steps, [1, 1, T]));
  const q4 = tf.transpose(qh, [0, 2, 1, 3]); // [B, H, T, d]
  const k4 = tf.transpose(kh, [0, 2, 1, 3]);
  const v4 = tf.transpose(vh, [0, 2, 1, 3]);
  const col = (a: tf.Tensor): tf.Tensor => tf.expandDims(a, 3);
  const cos = tf.matMul(q4, k4, false, true); // [B, H, T, T]
  const w = tf.mul(cos, tf.add(tf.mul(col(alpha), ex), tf.mul(tf.add(tf.mul(col(beta), tf.expandDims(sT, 2)), col(gamma)), lower)));
  let o4 = tf.matMul(w, v4);
  if (st !== undefined) {
    const [F, G, Hs] = stateParts(st['S'] as tf.Tensor4D);
    o4 = tf.add(o4, tf.addN([tf.mul(col(tf.mul(alpha, rPrev!)), tf.matMul(q4, F)), tf.mul(col(beta), tf.matMul(q4, G)), tf.mul(col(gamma), tf.matMul(q4, Hs))]));
  }
  const o = tf.transpose(o4, [0, 2, 1, 3]) as tf.Tensor4D;
  if (!wantState) return { o };
  const lastOf = (a: tf.Tensor): tf.Tensor2D => tf.reshape(tf.slice(a, [0, 0, T - 1], [B, H, 1]), [B, H]) as tf.Tensor2D;
  const mT = lastOf(mt);
  const eT = tf.exp(tf.sub(sT, tf.expandDims(mT, 2))); // [B, H, T]
  let F = tf.matMul(tf.mul(k4, col(eT)), v4, true, false); // [B, H, d, d]
  let G = tf.matMul(tf.mul(k4, col(sT)), v4, true, false);
  let Hs = tf.matMul(k4, v4, true, false);
  if (st !== undefined) {
    const [F0, G0, H0] = stateParts(st['S'] as tf.Tensor4D);
    F = tf.add(F, tf.mul(F0, tf.reshape(tf.exp(tf.sub(st['m']!, mT)), [B, H, 1, 1])));
    G = tf.add(G, G0);
    Hs = tf.add(Hs, H0);
  }
  return { o, state: { S: tf.concat([F, G, Hs], 2), E: lastOf(E), P: lastOf(P), m: mT } };
}

/**
 * The linear-time form of the reference (and its non-causal form): one zero-decay linear attention
 * with keys [e^{s_i−m} k̂_i, s_i k̂_i, k̂_i], shift m = the sequence max (continuing from a state: the
 * larger of it and the state's, whose F rows and E are rescaled).
 */
function linearForm(inp: CoreInput, causal: boolean, chunkSize: number | undefined): CoreResult {
  const { s, qh, kh, vh, s1T, shT, g0T, steps, st, wantState } = inp;
  const [B, T, H] = qh.shape;
  let m = stopGradient(tf.max(s, 1)) as tf.Tensor2D; // [B, H]
  if (st !== undefined) m = tf.maximum(m, st['m']!) as tf.Tensor2D;
  const e = tf.exp(tf.sub(s, tf.expandDims(m, 1))) as tf.Tensor3D; // [B, T, H]
  let E = causal ? cumsumT(e) : tf.sum(e, 1, true);
  let P = causal ? cumsumT(s) : tf.sum(s, 1, true);
  let S0: tf.Tensor4D | undefined;
  if (st !== undefined) {
    const r = tf.exp(tf.sub(st['m']!, m)); // [B, H]
    E = tf.add(E, tf.expandDims(tf.mul(st['E']!, r), 1));
    P = tf.add(P, tf.expandDims(st['P']!, 1));
    const [F, G, Hs] = stateParts(st['S'] as tf.Tensor4D);
    S0 = tf.concat([tf.mul(F, tf.reshape(r, [B, H, 1, 1])), G, Hs], 2) as tf.Tensor4D;
  }
  // t in β and γ: the position (causal) or the sequence length (non-causal).
  const t = causal ? tf.reshape(steps, [1, 1, T]) : tf.scalar(T);
  const c = coefficients(s1T, shT, g0T, tf.transpose(E, [0, 2, 1]), tf.transpose(P, [0, 2, 1]), t);
  const col = (a: tf.Tensor): tf.Tensor => tf.expandDims(tf.transpose(a, [0, 2, 1]), 3); // [B,H,T] → [B,T,H,1]
  const fq = tf.concat([tf.mul(qh, col(c.alpha)), tf.mul(qh, col(c.beta)), tf.mul(qh, col(c.gamma))], 3) as tf.Tensor4D;
  const fk = tf.concat([tf.mul(kh, tf.expandDims(e, 3)), tf.mul(kh, tf.expandDims(s, 3)), kh], 3) as tf.Tensor4D;
  if (!causal) {
    // Every position reads the sums over the whole sequence: Σ_i f_k(i)ᵀ v_i [B, H, 3d, d].
    const S = tf.matMul(tf.transpose(fk, [0, 2, 3, 1]), tf.transpose(vh, [0, 2, 1, 3]));
    return { o: tf.transpose(tf.matMul(tf.transpose(fq, [0, 2, 1, 3]), S), [0, 2, 1, 3]) as tf.Tensor4D };
  }
  const r = simpleGla(fq, fk, vh, tf.zeros([B, T, H]) as tf.Tensor3D, { scale: 1, initialState: S0, wantState, chunkSize });
  if (!wantState) return { o: r.o };
  const last = (a: tf.Tensor): tf.Tensor2D => tf.reshape(tf.slice(a, [0, T - 1, 0], [B, 1, H]), [B, H]) as tf.Tensor2D;
  return { o: r.o, state: { S: r.finalState!, E: last(E), P: last(P), m } };
}

function zerosLayer(o: Opts, ctx: MixerContext, causal: boolean): TokenMixer {
  const D = ctx.dModel;
  const H = o.num_heads;
  const d = perHead('zeros', D, H, 'model width', D);
  if (o.rope && d % 2 !== 0) throw new MetalaError(`model.mixer: zeros: RoPE needs an even head width, got d_model ${D} / num_heads ${H} = ${d}`);
  const p: ParamScope = ctx.params;
  const bound = 1 / Math.sqrt(D);
  const wInit = (name: string): Init => (o.init === 'pytorch' ? { kind: 'uniform', bound } : { kind: 'normal', std: name === 'out_proj' ? 0.02 / Math.sqrt(2 * ctx.nLayers) : 0.02 });
  const bInit: Init = o.init === 'pytorch' ? { kind: 'uniform', bound } : { kind: 'zeros' };
  // nn.Linear(D, out): weight [out, in] in the file, [in, out] here; names as the reference's.
  const linear = (name: string, out: number): { w: tf.Variable; b?: tf.Variable } => ({
    w: p.add(`${name}.weight`, [D, out], wInit(name), { layout: 'linear' }),
    b: o.bias ? p.add(`${name}.bias`, [out], bInit, { decay: false }) : undefined,
  });
  const q = linear('q', D);
  const k = linear('k', D);
  const v = linear('v', D);
  const u = linear('u', D);
  // Gate rows h·3 + {0: σ¹, 1: σʰ, 2: σ⁰}; the third block is kept when unused (parameter parity).
  const gate = linear('gate', 3 * H);
  const out = linear('out_proj', D);
  const mu = p.add('prior_mu', [H, d], { kind: 'zeros' }, { fileShape: [1, 1, H, d], decay: false });
  const logTau = p.add('prior_log_tau', [H], { kind: 'zeros' }, { fileShape: [1, 1, H, 1], decay: false });

  return {
    forward(x, opts = {}) {
      const [B, T] = x.shape;
      const st = opts.state;
      if (!causal && (st !== undefined || opts.wantState === true)) throw new Error('zeros: the non-causal form has no decoding state');
      const heads = (t: tf.Tensor): tf.Tensor4D => tf.reshape(t, [B, T, H, d]) as tf.Tensor4D;
      const qh0 = heads(dense(x, q.w, q.b));
      const kh0 = heads(dense(x, k.w, k.b));
      const vh = heads(dense(x, v.w, v.b));
      const uh = heads(dense(x, u.w, u.b));
      const g = tf.reshape(dense(x, gate.w, gate.b), [B, T, H, 3]) as tf.Tensor4D;
      const s1 = tf.sigmoid(gatePart(g, 0));
      const sh = tf.sigmoid(gatePart(g, 1));

      // Tokens seen before this call, and 1-based positions t of this call's tokens.
      const seen: tf.Tensor1D = (st?.['count'] as tf.Tensor1D | undefined) ?? tf.zeros([1]);
      const steps = tf.add(tf.range(1, T + 1, 1, 'float32'), seen) as tf.Tensor1D;

      // s_i from the smoothed running mean of u. Porting note: non-causal keeps the position i in
      // the denominator over the full sum, as the reference does.
      const tau = tf.reshape(tf.exp(tf.clipByValue(logTau, -50, 30)), [1, 1, H, 1]);
      let usum = causal ? cumsumT(uh) : tf.sum(uh, 1, true);
      if (st !== undefined) usum = tf.add(usum, tf.reshape(st['usum']!, [B, 1, H, d]));
      const ubar = tf.div(tf.add(tf.mul(tau, tf.reshape(mu, [1, 1, H, d])), usum), tf.add(tau, tf.reshape(steps, [1, T, 1, 1])));
      const s = tf.div(tf.neg(tf.sum(tf.mul(uh, ubar), -1)), Math.sqrt(d)) as tf.Tensor3D; // [B, T, H]

      const pos = tf.sub(steps, 1) as tf.Tensor1D;
      const qh = unit(o.rope ? applyRotaryRepeatedTable(qh0, pos, o.rope_base) : qh0) as tf.Tensor4D;
      const kh = unit(o.rope ? applyRotaryRepeatedTable(kh0, pos, o.rope_base) : kh0) as tf.Tensor4D;

      const s1T = tf.transpose(s1, [0, 2, 1]);
      const shT = tf.transpose(sh, [0, 2, 1]);
      const g0T = o.first_layer_zero_order ? tf.transpose(tf.tanh(gatePart(g, 2)), [0, 2, 1]) : undefined;
      const inp: CoreInput = { s, qh, kh, vh, s1T, shT, g0T, steps, st, wantState: opts.wantState === true };
      const r = causal && o.form === 'quadratic' ? quadraticCausal(inp) : linearForm(inp, causal, o.chunk_size);
      const oh = r.o;
      const normed = o.use_norm ? layerNorm(oh, 1e-5) : oh;
      const y = dense(tf.reshape(normed, [B, T, D]), out.w, out.b) as tf.Tensor3D;
      if (opts.wantState !== true) return { y };
      const prevU = st !== undefined ? st['usum']! : tf.zeros([B, H, d]);
      const state: MixerState = { ...r.state!, usum: tf.add(prevU, tf.sum(uh, 1)), count: tf.add(seen, T) };
      return { y, state };
    },
  };
}

export const zeros = defineMixer({
  name: 'zeros',
  family: 'linformer',
  cite: 'Lu et al. 2025, ZeroS: zero-sum linear attention (NeurIPS, arXiv 2602.05230); LJC-FVNR/SequenceLab@cae594f src/sequencelab/layers/zeros.py',
  form: {
    f_q: '[α_t, β_t, γ_t] ⊗ q̂_t (α = σʰ/E_t, β = (σ¹−σʰ)/t, γ = −(βP_t+σʰ)/t)',
    f_k: '[e^{s_i−m}, s_i, 1] ⊗ k̂_i (s_i = −⟨u_i, ū_i⟩/√d)',
    f_v: 'xW_V',
    f_alpha: '1 (no decay; E_t, P_t are running sums)',
    f_g: 'per-head LayerNorm',
  },
  properties: { C0: true, C1: true, C2: true, C3: false },
  options,
  // Per head: F, G, H (3d²), Σu (d), E, P, m and the token count.
  stateSize: (o, D) => {
    const d = D / o.num_heads;
    return o.num_heads * (3 * d * d + d + 4);
  },
  // q, k, v, u, out_proj (D → D), gate (D → 3H), μ (D) and log τ (H).
  paramCount: (o, D) => {
    const b = o.bias ? 1 : 0;
    return 5 * (D * D + b * D) + 3 * o.num_heads * (D + b) + D + o.num_heads;
  },
  create: (o, ctx) => zerosLayer(o, ctx, true),
  createNonCausal: (o, ctx) => zerosLayer(o, ctx, false),
  reference: {
    classes: ['ZeroSAttention'],
    fromFixture(hp) {
      if (hp['use_associative'] === false) {
        throw new Error("use_associative: false is the reference's explicit-weights path, a different function (docs/seed-systems.md §1); only the associative path is ported");
      }
      return {
        options: { num_heads: hp['n_head'], bias: hp['bias'] ?? true, use_norm: hp['use_norm'] ?? true, first_layer_zero_order: hp['is_first_layer'] ?? false },
        dModel: Number(hp['n_embd']),
        causal: hp['is_causal'] !== false,
      };
    },
  },
});
