// Free Energy Mixer (FEM; Lu & Yang, ICLR 2026, arXiv 2602.07160), following SequenceLab
// `src/sequencelab/layers/fem.py` (docs/seed-systems.md §2). A prior p_t(i) from a base mixer
// (softmax, normalised linear attention, GLA, an AFT-like RNN or a Mamba scan) gives per channel the
// mean read μ_t = Σ_i p_t(i) v_i and the free energy F_t = (1/β) log Σ_i p_t(i) e^{β v_i}; the output
// blends them, o_t = g_t ⊙ ((1 − λ_t) ⊙ μ_t + λ_t ⊙ F_t), merged over heads and projected (E → D).
// Both reads are ONE pass of the prior over the values widened to [v, e^{βv − m}] (m a shift).
// Before that a time-decay conditioning (TDC) module rescales v, q, k, λ and g by (1 + s_t).
// Unified form (FEM-GLA): f_q = φ(q_t), f_k = φ(k_i), f_v = [v_i, e^{βv_i − m}], f_α = e^{a_t},
// f_g = the read g ⊙ ((1−λ)μ + λ log(·)/β).
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, layerNorm, stopGradient } from '../layers/basic.js';
import type { ParamScope } from '../layers/params.js';
import { causalLogMask, prefixSum } from '../ops/common/tensor.js';
import { hgrn } from '../ops/hgrn/index.js';
import { selectiveScan } from '../ops/selective_scan/index.js';
import { simpleGla } from '../ops/simple_gla/index.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer, type MixerContext, type MixerState, type TokenMixer } from './types.js';

const PRIORS = ['softmax', 'linear', 'gla', 'rnn_softmax', 'mamba'] as const;

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** The prior p_t(i) (`prior_type`). */
    prior: z.enum(PRIORS).default('softmax'),
    /** E = fem_ratio·D rounded to a multiple of 4H: the value width (`fem_ratio`). */
    fem_ratio: z.number().positive().default(0.5),
    /** |Q| = |K| = p_t_to_fem_ratio·E/2 rounded to a multiple of 2H (`p_t_to_fem_ratio`). */
    p_t_to_fem_ratio: z.number().positive().default(4),
    /** Learned per-channel β with the value clip |βv| ≤ value_logexp_cap (`use_temperature`). */
    use_temperature: z.boolean().default(true),
    /** Without temperature: keep the log-sum-exp read at β = 1, no clip (`use_lse`). */
    use_lse: z.boolean().default(true),
    /** The outer gate g (`use_outer_gate`). */
    use_outer_gate: z.boolean().default(true),
    /** The TDC module (`use_conv`) and its hidden width H_c (`conv_hidden`; the paper uses d/16). */
    use_conv: z.boolean().default(true),
    conv_hidden: z.number().int().positive().default(64),
    /** RoPE on q, k as the reference codes it (not used by the Mamba prior). */
    use_rope: z.boolean().default(true),
    rope_base: z.number().positive().default(10000),
    value_logexp_cap: z.number().positive().default(40),
    /** β_param's initial value (β = softplus(β_param) + eps). */
    beta_max_init: z.number().default(1.8),
    /** R, the state size per channel of the Mamba prior (`ssm_rank`). */
    ssm_rank: z.number().int().positive().default(16),
    eps: z.number().positive().default(1e-6),
    /** Biases on every projection and the TDC norms (`bias`). */
    bias: z.boolean().default(true),
    /**
     * The rnn_softmax prior's shift K of e^{k − K} + eps: `running_max` (K_t = max_{i≤t} k_i, exactly
     * causal, decodes) or `sequence_max` (the reference's max over the whole sequence: its outputs
     * then depend on later tokens through eps; parallel form only, for checking against its code).
     */
    aft_shift: z.enum(['running_max', 'sequence_max']).default('running_max'),
    /** Chunk length of the softmax prior's exp read and of the linear / GLA scans (default: per op). */
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

/** Python's round(): halves to even. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The reference's `_round_channels(x, 1, n_head, unit, 'nearest')`: a multiple of n_head·unit near x. */
function roundChannels(x: number, H: number, unit: number): number {
  const base = H * unit;
  const q = Math.max(pyRound(x / base), 1);
  const cand = q * base;
  const low = q > 1 ? (q - 1) * base : base;
  const high = (q + 1) * base;
  if (Math.abs(cand - x) < Math.abs(low - x) && Math.abs(cand - x) <= Math.abs(high - x)) return cand;
  return Math.abs(high - x) <= Math.abs(low - x) ? high : low;
}

interface Sizes {
  H: number;
  /** Value width E, per head d_v = E/H. */
  E: number;
  dv: number;
  /** Q/K width per head (0 for the Mamba prior). */
  dk: number;
  Hc: number;
  R: number;
  /** The free-energy read is on (use_temperature or use_lse). */
  branch: boolean;
  /** Columns of the TDC projection P: [s_V (E) | s_Q, s_K (H·d_k each) | s_λ (E) | s_g (E) | GLA (H)]. */
  tdcOut: number;
}

function sizes(o: Opts, D: number): Sizes {
  const H = o.num_heads;
  const E = roundChannels(pyRound(o.fem_ratio * D), H, 4);
  const dv = E / H;
  let dk = 0;
  if (o.prior !== 'mamba') {
    dk = roundChannels(Math.max(pyRound(0.5 * o.p_t_to_fem_ratio * E), 2 * H), H, 2) / H;
    // The AFT read tiles q, k over the value width: d_k must divide d_v (largest even divisor).
    if (o.prior === 'rnn_softmax' && dv % dk !== 0) {
      let c = dv;
      while (c > 1 && !(c % 2 === 0 && dv % c === 0)) c--;
      dk = c > 1 ? c : dv % 2 === 0 ? dv : Math.max(2, dv - 1);
    }
  }
  const branch = o.use_temperature || o.use_lse;
  const tdcOut = E + 2 * H * dk + (branch ? E : 0) + (o.use_outer_gate ? E : 0) + (o.prior === 'gla' ? H : 0);
  return { H, E, dv, dk, Hc: o.conv_hidden, R: o.ssm_rank, branch, tdcOut };
}

/** Smallest normal float32: the floor of a shifted exp read before its log. */
const TINY = 1.1754944e-38;
/** Additive mask value / padding for maxima (exp(−1e30) = 0 with zero gradient). */
const NEG = -1e30;

/** x along `axis` shifted by s (the first s entries are `fill`). */
function shiftAlong(x: tf.Tensor, s: number, axis: number, fill: number): tf.Tensor {
  const n = x.shape[axis]!;
  const size = x.shape.map((d, i) => (i === axis ? n - s : d));
  const pads = x.shape.map((_, i): [number, number] => (i === axis ? [s, 0] : [0, 0]));
  return tf.pad(tf.slice(x, x.shape.map(() => 0), size), pads, fill);
}

/**
 * Running maximum along `axis` (m_t = max_{i≤t} x_i) by doubling: ⌈log2 n⌉ tf.maximum steps, each
 * entry a max over its prefix only, so exactly causal. The gradient reaches the arg-max entry.
 */
function runningMax(x: tf.Tensor, axis: number): tf.Tensor {
  let m = x;
  for (let s = 1; s < (x.shape[axis] ?? 0); s *= 2) m = tf.maximum(m, shiftAlong(m, s, axis, NEG));
  return m;
}

/** m_{t−1} along axis 1 of [B, T, ...], with `first` (the state's, or m_0) before t = 0. */
function previous(m: tf.Tensor, first: tf.Tensor): tf.Tensor {
  const T = m.shape[1]!;
  if (T === 1) return first;
  const head = tf.slice(m, m.shape.map(() => 0), m.shape.map((d, i) => (i === 1 ? T - 1 : d)));
  return tf.concat([first, head], 1);
}

/** Row t of [B, T, ...] kept as [B, 1, ...]. */
function rowAt(x: tf.Tensor, t: number): tf.Tensor {
  return tf.slice(
    x,
    x.shape.map((_, i) => (i === 1 ? t : 0)),
    x.shape.map((d, i) => (i === 1 ? 1 : d)),
  );
}

/** x / max(‖x‖₂, eps) · √n over the last axis (F.normalize, rescaled). */
function normalizeScaled(x: tf.Tensor, eps: number, n: number): tf.Tensor {
  return tf.mul(tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), -1, true)), eps)), Math.sqrt(n));
}

/**
 * F = (log(out) + m)/β from the shifted read out = Σ_i p_t(i) e^{βv_i − m}. Porting note: the
 * reference restores log(out + tiny·e^{−M}) + M with float64's tiny (no effect unless the sum
 * underflows); here the shifted sum is floored at float32's smallest normal instead.
 */
function freeEnergy(out: tf.Tensor, m: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  return tf.div(tf.add(tf.log(tf.maximum(out, TINY)), m), beta);
}

/**
 * RoPE as SequenceLab's SimpleRoPE builds it (docs/seed-systems.md §2, step 3): the table is
 * cat(f, f), so channel j uses frequency f_{j mod d/2} = base^{−2(j mod d/2)/d}, while the rotation
 * pairs interleaved channels: out_{2i} = x_{2i} cos − x_{2i+1} sin, out_{2i+1} = x_{2i+1} cos + x_{2i} sin
 * (each with its own channel's angle). Reproduced as coded.
 * @param x [B, T, H, d] (d even)
 * @param pos [T] positions of x's tokens
 */
function ropeInterleaved(x: tf.Tensor4D, pos: tf.Tensor1D, base: number): tf.Tensor4D {
  const [B, T, H, d] = x.shape;
  const half = d / 2;
  // inv_freq as the reference computes it, in float32.
  const inv = new Float32Array(d);
  for (let j = 0; j < d; j++) inv[j] = Math.fround(1 / Math.fround(Math.pow(base, Math.fround((2 * (j % half)) / d))));
  const ang = tf.reshape(tf.mul(tf.reshape(pos, [T, 1]), tf.tensor2d(inv, [1, d])), [1, T, 1, d]);
  const pairs = tf.reshape(x, [B, T, H, half, 2]);
  const even = tf.slice(pairs, [0, 0, 0, 0, 0], [B, T, H, half, 1]);
  const odd = tf.slice(pairs, [0, 0, 0, 0, 1], [B, T, H, half, 1]);
  const rot = tf.reshape(tf.concat([tf.neg(odd), even], 4), [B, T, H, d]);
  return tf.add(tf.mul(x, tf.cos(ang)), tf.mul(rot, tf.sin(ang))) as tf.Tensor4D;
}

/**
 * The exp read of a causal weight matrix with a running-max shift, exactly causal in float32:
 *   e[t] = Σ_{i≤t} W[t, i] e^{a_i − m_t},  m_t = max_{i≤t} a_i   (per channel; every exponent ≤ 0)
 * Queries go in chunks of c: keys before the chunk are read with one matMul against
 * e^{a_i − σ_n} (σ_n = the running max before the chunk), rescaled by e^{σ_n − m_t}; keys in the
 * chunk need the query's own shift, a [c, c, V] product per chunk. O(T·S·V/c + T·c·V) memory.
 * @param W [B, H, T, S] weights, 0 above the diagonal (query t is key L + t)
 * @param a [B, H, S, V] exponents (keys 0..S−1; the first L are cached)
 * @returns e [B, H, T, V] and the shifts m [B, H, T, V]
 */
function causalExpRead(W: tf.Tensor4D, a: tf.Tensor4D, L: number, chunk: number): { e: tf.Tensor4D; m: tf.Tensor4D } {
  const [B, H, T, S] = W.shape;
  const V = a.shape[3];
  const c = Math.min(chunk, T);
  const N = Math.ceil(T / c);
  const Tp = N * c;
  const mAll = runningMax(stopGradient(a), 2); // [B, H, S, V]
  const mq = tf.slice(mAll, [0, 0, L, 0], [B, H, T, V]);
  // Padded query rows get the shift +1e30: their exps are 0, never inf.
  const mqP = tf.reshape(tf.pad(mq, [[0, 0], [0, 0], [0, Tp - T], [0, 0]], -NEG), [B, H, N, c, 1, V]);
  // Keys of the query's own chunk: the diagonal blocks of W's new-key columns [B, H, N, c, c].
  const Wnew = tf.pad(tf.slice(W, [0, 0, 0, L], [B, H, T, T]), [[0, 0], [0, 0], [0, Tp - T], [0, Tp - T]]);
  const eye = new Float32Array(N * N);
  for (let n = 0; n < N; n++) eye[n * N + n] = 1;
  const Wd = tf.sum(tf.mul(tf.reshape(Wnew, [B, H, N, c, N, c]), tf.tensor(eye, [1, 1, N, 1, N, 1])), 4);
  const aNew = tf.reshape(tf.pad(tf.slice(a, [0, 0, L, 0], [B, H, T, V]), [[0, 0], [0, 0], [0, Tp - T], [0, 0]]), [B, H, N, 1, c, V]);
  const ex = tf.exp(tf.add(tf.sub(aNew, mqP), tf.reshape(causalLogMask(c), [1, 1, 1, c, c, 1]))); // [B,H,N,c(t),c(i),V]
  let e = tf.sum(tf.mul(tf.expandDims(Wd, 5), ex), 4); // [B, H, N, c, V]
  if (L > 0 || N > 1) {
    // Keys before each chunk n (i < L + n·c), shifted by σ_n = m at L + n·c − 1 (≥ every such a_i).
    const starts = Array.from({ length: N }, (_, n) => L + n * c);
    const sigma = tf.gather(mAll, tf.tensor1d(starts.map((s) => Math.max(s - 1, 0)), 'int32'), 2); // [B, H, N, V]
    const mask = new Float32Array(N * S);
    for (let n = 0; n < N; n++) for (let i = starts[n]!; i < S; i++) mask[n * S + i] = NEG;
    const U = tf.exp(tf.add(tf.sub(tf.reshape(a, [B, H, 1, S, V]), tf.reshape(sigma, [B, H, N, 1, V])), tf.tensor(mask, [1, 1, N, S, 1])));
    const Wrows = tf.reshape(tf.pad(W, [[0, 0], [0, 0], [0, Tp - T], [0, 0]]), [B * H * N, c, S]);
    const past = tf.reshape(tf.matMul(Wrows, tf.reshape(U, [B * H * N, S, V])), [B, H, N, c, V]);
    e = tf.add(e, tf.mul(past, tf.exp(tf.sub(tf.reshape(sigma, [B, H, N, 1, V]), tf.reshape(mqP, [B, H, N, c, V])))));
  }
  return { e: tf.slice(tf.reshape(e, [B, H, Tp, V]), [0, 0, 0, 0], [B, H, T, V]) as tf.Tensor4D, m: mq as tf.Tensor4D };
}

/** What every prior reads: heads [B, T, H, ·] after TDC and RoPE, and the exp exponents a = βv. */
interface PriorInput {
  x: tf.Tensor3D;
  q?: tf.Tensor4D;
  k?: tf.Tensor4D;
  /** Values after the clip (the mean half). */
  v: tf.Tensor4D;
  /** β v [B, T, H, d_v] when the free-energy read is on. */
  a?: tf.Tensor4D;
  /** β [1, 1, H, d_v]. */
  beta?: tf.Tensor;
  st?: MixerState;
  wantState: boolean;
  causal: boolean;
  /** 1-based positions of this call's tokens [T] (continuing a state). */
  steps: tf.Tensor1D;
}

/** μ and F [B, T, H, d_v] (F when the free-energy read is on) and this prior's part of the state. */
interface PriorOutput {
  mu: tf.Tensor4D;
  F?: tf.Tensor4D;
  state?: MixerState;
}

interface Weights {
  w: tf.Variable;
  b?: tf.Variable;
}

function femLayer(o: Opts, ctx: MixerContext, causal: boolean): TokenMixer {
  const D = ctx.dModel;
  const z0 = sizes(o, D);
  const { H, E, dv, dk, Hc, R, branch } = z0;
  if (!Number.isInteger(dv) || dv < 1) throw new MetalaError(`model.mixer: fem: value width ${E} does not split into num_heads ${H}`);
  if (!causal && o.prior !== 'softmax' && o.prior !== 'linear') throw new MetalaError(`model.mixer: fem: the ${o.prior} prior has no non-causal form (softmax and linear have)`);
  const attn = o.prior !== 'mamba';
  const p: ParamScope = ctx.params;
  const init = { kind: 'normal', std: 0.02 } as const;
  // nn.Linear(in, out): N(0, 0.02) weight ([out, in] in the file, [in, out] here), zero bias.
  const linear = (name: string, inDim: number, out: number): Weights => ({
    w: p.add(`${name}.weight`, [inDim, out], init, { layout: 'linear' }),
    b: o.bias ? p.add(`${name}.bias`, [out], { kind: 'zeros' }, { decay: false }) : undefined,
  });
  const norm = (name: string, n: number): Weights => ({
    w: p.add(`${name}.weight`, [n], { kind: 'ones' }, { decay: false }),
    b: o.bias ? p.add(`${name}.bias`, [n], { kind: 'zeros' }, { decay: false }) : undefined,
  });
  const wv = linear('v_proj', D, E);
  const wo = linear('o_proj', E, D);
  const wq = attn ? linear('q_proj', D, H * dk) : undefined;
  const wk = attn ? linear('k_proj', D, H * dk) : undefined;
  const wDecay = o.prior === 'gla' ? linear('decay_proj', D, H) : undefined;
  // Mamba prior: W_p → [Δ (E) | B (R) | C (R)], A_log [E, R] (init −1), D (init 1).
  const wP = o.prior === 'mamba' ? linear('ssm_proj', D, E + 2 * R) : undefined;
  const aLog = o.prior === 'mamba' ? p.add('A_log', [E, R], { kind: 'const', value: -1 }, { decay: false }) : undefined;
  const dDiag = o.prior === 'mamba' ? p.add('D', [E], { kind: 'ones' }, { decay: false }) : undefined;
  const wLambda = branch ? linear('lambda_proj', D, E) : undefined;
  const wGate = o.use_outer_gate ? linear('gate_proj', D, E) : undefined;
  // β_param exists in every configuration (the reference always builds it).
  const betaParam = p.add('beta', [E], { kind: 'const', value: o.beta_max_init }, { decay: false });
  const tdc = o.use_conv
    ? {
        norm: norm('tdc.norm', D),
        inF: linear('tdc.in_f', D, Hc),
        xF: linear('tdc.x_f', D, Hc),
        shortcut: linear('tdc.shortcut', D, Hc),
        // P [H_c, out], zero-initialised: the module starts as the identity modulation.
        out: p.add('tdc.out_proj', [Hc, z0.tdcOut], { kind: 'zeros' }),
        ln: norm('tdc.ln', Hc),
      }
    : undefined;
  const chunk = o.chunk_size;

  const affine = (x: tf.Tensor, n: Weights): tf.Tensor => (n.b === undefined ? tf.mul(x, n.w) : tf.add(tf.mul(x, n.w), n.b));

  /**
   * TDC: x̃ = LN(x); c = softplus(x̃W_sc) + 1e-8 rescaled to norm √H_c; a = −softplus(x̃W_in);
   * y = (c ⊙ LN(h)) P [B, T, tdcOut] with h as the reference computes it,
   *   h_t = D_t Σ_{i≤t} (x̃W_xf)_i / (D_i + 1e-12),  D_t = e^{C_t}, C_t = Σ_{j≤t} a_j  (from token 0).
   * The 1e-12 is not negligible: once C_i < ln 1e-12 ≈ −27.6 (the fixtures reach −39) the inputs
   * fade out. Since D_t/(D_i + ε) = e^{C_t − C_i} σ(C_i − ln ε), this is the recurrence
   * h_t = e^{a_t} h_{t−1} + σ(C_t − ln ε) (x̃W_xf)_t (ops hgrn), the same function without the
   * underflow of e^{C}. Porting note: computed as that recurrence; the state carries h and C.
   */
  function conditioning(x: tf.Tensor3D, st: MixerState | undefined, wantState: boolean): { s: tf.Tensor; h?: tf.Tensor2D; C?: tf.Tensor2D } {
    const t = tdc!;
    const [B, T] = x.shape;
    const xln = affine(layerNorm(x, 1e-5), t.norm);
    const sc = normalizeScaled(tf.add(tf.softplus(dense(xln, t.shortcut.w, t.shortcut.b)), 1e-8), 1e-8, Hc);
    const xf = dense(xln, t.xF.w, t.xF.b) as tf.Tensor3D;
    const a = tf.neg(tf.softplus(dense(xln, t.inF.w, t.inF.b))) as tf.Tensor3D;
    let C: tf.Tensor = prefixSum(a); // [B, T, H_c]
    if (st?.['tdc_C'] !== undefined) C = tf.add(C, tf.expandDims(st['tdc_C'], 1));
    const damp = tf.sigmoid(tf.sub(C, Math.log(1e-12)));
    const r = hgrn(tf.mul(xf, damp) as tf.Tensor3D, a, { initialState: st?.['tdc_h'] as tf.Tensor2D | undefined, wantState });
    const y = tf.mul(sc, affine(layerNorm(r.o, 1e-5), t.ln));
    const last = wantState ? (tf.reshape(tf.slice(C, [0, T - 1, 0], [B, 1, Hc]), [B, Hc]) as tf.Tensor2D) : undefined;
    return { s: dense(y, t.out), h: r.finalState, C: last };
  }

  /** Softmax prior (scale d_k^−1/2) over [v, e^{a−m}]; its state is the KV cache (k after RoPE, v after the clip). */
  function softmaxPrior(inp: PriorInput): PriorOutput {
    const T = inp.v.shape[1];
    let k = inp.k!;
    let v = inp.v;
    const past = inp.st;
    if (past !== undefined) {
      k = tf.concat([past['k'] as tf.Tensor4D, k], 1);
      v = tf.concat([past['v'] as tf.Tensor4D, v], 1);
    }
    const L = past === undefined ? 0 : past['k']!.shape[1]!;
    const S = L + T;
    const q4 = tf.transpose(inp.q!, [0, 2, 1, 3]); // [B, H, T, d_k]
    const k4 = tf.transpose(k, [0, 2, 1, 3]); // [B, H, S, d_k]
    const v4 = tf.transpose(v, [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, S, d_v]
    let scores = tf.mul(tf.matMul(q4, k4, false, true), 1 / Math.sqrt(dk)); // [B, H, T, S]
    if (inp.causal) {
      const m = new Float32Array(T * S);
      for (let t = 0; t < T; t++) for (let s = L + t + 1; s < S; s++) m[t * S + s] = -1e9;
      scores = tf.add(scores, tf.tensor(m, [1, 1, T, S]));
    }
    const P = tf.softmax(scores) as tf.Tensor4D;
    const mu = tf.transpose(tf.matMul(P, v4), [0, 2, 1, 3]) as tf.Tensor4D;
    let F: tf.Tensor4D | undefined;
    if (branch) {
      const beta4 = tf.reshape(inp.beta!, [1, H, 1, dv]);
      const a4 = tf.mul(v4, beta4) as tf.Tensor4D;
      let e: tf.Tensor;
      let m: tf.Tensor;
      if (inp.causal) ({ e, m } = causalExpRead(P, a4, L, chunk ?? 64));
      else {
        // Non-causal: the reference's shift, the sequence max (detached).
        m = stopGradient(tf.max(a4, 2, true));
        e = tf.matMul(P, tf.exp(tf.sub(a4, m)));
      }
      F = tf.transpose(freeEnergy(e, m, beta4), [0, 2, 1, 3]) as tf.Tensor4D;
    }
    return { mu, F, state: inp.wantState ? { k, v } : undefined };
  }

  /**
   * Linear (f_α = 1) and GLA (f_α = e^{a_t}, a_t = −(relu(xW_decay) + eps) per head) priors with
   * φ = relu + eps: num_t = φ(q_t) S_t, den_t = φ(q_t) z_t, S_t = f_α S_{t−1} + φ(k_t)ᵀ v_t,
   * z_t = f_α z_{t−1} + φ(k_t); μ = num/max(den, eps) (linear) or num/(den + 1e-5) (GLA).
   * Porting note: the GLA reference's parallel path clips the cumulative log decay to [−60, 50];
   * the recurrence here does not (equal while Σa > −60; the fixture reaches −13.4).
   */
  function linearPrior(inp: PriorInput): PriorOutput {
    const [B, T] = inp.v.shape;
    const fq = tf.add(tf.relu(inp.q!), o.eps) as tf.Tensor4D;
    const fk = tf.add(tf.relu(inp.k!), o.eps) as tf.Tensor4D;
    const vals = tf.concat([inp.v, tf.ones([B, T, H, 1])], 3) as tf.Tensor4D; // [v | 1]: num and den
    const gla = wDecay !== undefined;
    const g = gla ? (tf.neg(tf.add(tf.relu(dense(inp.x, wDecay.w, wDecay.b)), o.eps)) as tf.Tensor3D) : (tf.zeros([B, T, H]) as tf.Tensor3D);
    const finish = (num: tf.Tensor, den: tf.Tensor): tf.Tensor => tf.div(num, gla ? tf.add(den, 1e-5) : tf.maximum(den, o.eps));
    if (!inp.causal) {
      // Every position reads the sums over the whole sequence; exp half shifted by the sequence max.
      const cols = branch ? [inp.v, tf.exp(tf.sub(inp.a!, stopGradient(tf.max(inp.a!, 1, true)))), tf.ones([B, T, H, 1])] : [inp.v, tf.ones([B, T, H, 1])];
      const S = tf.matMul(tf.transpose(fk, [0, 2, 3, 1]), tf.transpose(tf.concat(cols, 3), [0, 2, 1, 3])); // [B, H, d_k, ·]
      const out = tf.transpose(tf.matMul(tf.transpose(fq, [0, 2, 1, 3]), S), [0, 2, 1, 3]);
      const W = branch ? 2 * dv : dv;
      const den = tf.slice(out, [0, 0, 0, W], [B, T, H, 1]);
      const mu = finish(tf.slice(out, [0, 0, 0, 0], [B, T, H, dv]), den) as tf.Tensor4D;
      if (!branch) return { mu };
      const M = stopGradient(tf.max(inp.a!, 1, true));
      return { mu, F: freeEnergy(finish(tf.slice(out, [0, 0, 0, dv], [B, T, H, dv]), den), M, inp.beta!) as tf.Tensor4D };
    }
    const st = inp.st;
    const r = simpleGla(fq, fk, vals, g, { scale: 1, initialState: st?.['S'] as tf.Tensor4D | undefined, wantState: inp.wantState, chunkSize: chunk });
    const den = tf.slice(r.o, [0, 0, 0, dv], [B, T, H, 1]);
    const mu = finish(tf.slice(r.o, [0, 0, 0, 0], [B, T, H, dv]), den) as tf.Tensor4D;
    const state: MixerState | undefined = inp.wantState ? { S: r.finalState! } : undefined;
    if (!branch) return { mu, state };
    // Exp half Σ_i φ(q_t)·φ(k_i) e^{A_t − A_i} e^{a_i − m_t}, m_t the running max (per channel):
    // with u_i = e^{a_i − m_i} ≤ 1 it is a linear attention whose decay also carries
    // e^{−(m_t − m_{t−1})}, a per-channel decay, so each (head, channel) becomes a head of
    // simpleGla with value width 1 (q, k tiled d_v times). Every exponent ≤ 0; exactly causal.
    // Porting note: the reference shifts by the sequence max M (detached), which cancels in real
    // numbers but makes earlier outputs move with later tokens at float32 rounding.
    const a = inp.a!;
    const mPrev = st?.['m'] as tf.Tensor3D | undefined; // [B, H, d_v]
    let m = runningMax(stopGradient(a), 1); // [B, T, H, d_v]
    if (mPrev !== undefined) m = tf.maximum(m, tf.expandDims(mPrev, 1));
    const first = mPrev === undefined ? rowAt(m, 0) : tf.expandDims(mPrev, 1);
    let ge = tf.reshape(tf.sub(previous(m, first), m), [B, T, H * dv]);
    if (gla) ge = tf.add(ge, tf.reshape(tf.tile(tf.expandDims(g, 3), [1, 1, 1, dv]), [B, T, H * dv]));
    const u = tf.reshape(tf.exp(tf.sub(a, m)), [B, T, H * dv, 1]) as tf.Tensor4D;
    const tileHeads = (f: tf.Tensor4D): tf.Tensor4D => tf.reshape(tf.tile(tf.expandDims(f, 3), [1, 1, 1, dv, 1]), [B, T, H * dv, dk]) as tf.Tensor4D;
    const re = simpleGla(tileHeads(fq), tileHeads(fk), u, ge as tf.Tensor3D, { scale: 1, initialState: st?.['Se'] as tf.Tensor4D | undefined, wantState: inp.wantState, chunkSize: chunk });
    const F = freeEnergy(finish(tf.reshape(re.o, [B, T, H, dv]), den), m, inp.beta!) as tf.Tensor4D;
    if (state !== undefined) {
      state['Se'] = re.finalState!;
      state['m'] = tf.reshape(rowAt(m, T - 1), [B, H, dv]);
    }
    return { mu, F, state };
  }

  /**
   * AFT-like RNN prior (`rnn_softmax`): q, k tiled to the value width; per channel
   * out_t = q̃_t ⊙ Σ_{i≤t} w_i v_i / Σ_{i≤t} w_i, w_i = e^{k_i − K} + eps, q̃ = softplus(q) + eps
   * rescaled to norm √(value width). Porting note: the reference's K is the max of k over the whole
   * sequence (with its gradient), so with the + eps its outputs depend on later tokens (4e-4 on the
   * fixture); here K_t = max_{i≤t} k_i (also with its gradient), exactly causal, and the sums are
   * scans with the decay e^{K_{t−1} − K_t}. Both equal the reference wherever the running max has
   * reached the sequence max.
   */
  function aftPrior(inp: PriorInput): PriorOutput {
    const [B, T] = inp.v.shape;
    const r = dv / dk;
    const tileV = (f: tf.Tensor4D): tf.Tensor => (r === 1 ? f : tf.tile(f, [1, 1, 1, r])); // [B, T, H, d_v]
    const width = branch ? 2 * dv : dv;
    // ‖tile to `width`‖ = √(width/d_v)·‖tile to d_v‖.
    const sq = tileV(tf.add(tf.softplus(inp.q!), o.eps) as tf.Tensor4D);
    const qt = tf.mul(tf.div(sq, tf.maximum(tf.mul(tf.sqrt(tf.sum(tf.square(sq), -1, true)), Math.sqrt(width / dv)), 1e-5)), Math.sqrt(width));
    const kr = tileV(inp.k!);
    const st = inp.st;
    const flat = (t: tf.Tensor): tf.Tensor => tf.reshape(t, [B, T, H * dv]);
    const Kprev = st?.['K'] as tf.Tensor3D | undefined;
    let K: tf.Tensor;
    let dK: tf.Tensor;
    if (o.aft_shift === 'sequence_max') {
      if (inp.wantState || st !== undefined) throw new MetalaError('fem: aft_shift: sequence_max has no decoding state (its shift is the max over the whole sequence); use running_max');
      K = tf.max(kr, 1, true); // [B, 1, H, d_v], with its gradient as in the reference
      dK = tf.zerosLike(kr);
    } else {
      K = runningMax(kr, 1);
      if (Kprev !== undefined) K = tf.maximum(K, tf.expandDims(Kprev, 1));
      dK = tf.sub(previous(K, Kprev === undefined ? rowAt(K, 0) : tf.expandDims(Kprev, 1)), K); // ≤ 0
    }
    const ek = tf.exp(tf.sub(kr, K));
    // Scans h_t = e^{g_t} h_{t−1} + x_t of [e^{k−K} v | e^{k−K} | v (| e^{k−K} u | u)], u = e^{a−m}.
    const xs = [tf.mul(ek, inp.v), ek, inp.v];
    const gs = [dK, dK, tf.zerosLike(dK)];
    let m: tf.Tensor | undefined;
    if (branch) {
      const mPrev = st?.['m'] as tf.Tensor3D | undefined;
      m = runningMax(stopGradient(inp.a!), 1);
      if (mPrev !== undefined) m = tf.maximum(m, tf.expandDims(mPrev, 1));
      const dm = tf.sub(previous(m, mPrev === undefined ? rowAt(m, 0) : tf.expandDims(mPrev, 1)), m);
      const u = tf.exp(tf.sub(inp.a!, m));
      xs.push(tf.mul(ek, u), u);
      gs.push(tf.add(dK, dm), dm);
    }
    const scan = hgrn(tf.concat(xs.map(flat), 2) as tf.Tensor3D, tf.concat(gs.map(flat), 2) as tf.Tensor3D, {
      initialState: st?.['h'] as tf.Tensor2D | undefined,
      wantState: inp.wantState,
    });
    const part = (i: number): tf.Tensor => tf.reshape(tf.slice(scan.o, [0, 0, i * H * dv], [B, T, H * dv]), [B, T, H, dv]);
    const count = tf.reshape(inp.steps, [1, T, 1, 1]);
    // Σ_i (e^{k_i−K_t} + eps) = Σ e^{k_i−K_t} + eps·t.
    const den = tf.maximum(tf.add(part(1), tf.mul(count, o.eps)), o.eps);
    const mu = tf.mul(qt, tf.div(tf.add(part(0), tf.mul(part(2), o.eps)), den)) as tf.Tensor4D;
    const state: MixerState | undefined = inp.wantState ? { h: scan.finalState!, K: tf.reshape(rowAt(K, T - 1), [B, H, dv]) } : undefined;
    if (!branch) return { mu, state };
    const F = freeEnergy(tf.mul(qt, tf.div(tf.add(part(3), tf.mul(part(4), o.eps)), den)), m!, inp.beta!) as tf.Tensor4D;
    if (state !== undefined) state['m'] = tf.reshape(rowAt(m!, T - 1), [B, H, dv]);
    return { mu, F, state };
  }

  /**
   * Mamba prior: a selective scan per channel, h_t = e^{Δ_t A} h_{t−1} + Δ_t B_t u_t, y_t = C_t·h_t + D u_t,
   * Δ = exp(−softplus(·)), B, C = softplus(·) + eps (from x W_p), A = −softplus(A_log), D = softplus(D) + eps,
   * over [v, 1, e^{a − s}] at once; μ and the exp read are divided by the scan of ones. v = σ(·) here,
   * so a = βv ≤ s = min(β, cap): Porting note: the shift is this bound, constant in time (exactly
   * causal, every exponent ≤ 0), not the reference's sequence max.
   */
  function mambaPrior(inp: PriorInput): PriorOutput {
    const [B, T] = inp.v.shape;
    const proj = dense(inp.x, wP!.w, wP!.b);
    const delta = tf.exp(tf.neg(tf.softplus(tf.slice(proj, [0, 0, 0], [B, T, E]))));
    const bm = tf.add(tf.softplus(tf.slice(proj, [0, 0, E], [B, T, R])), o.eps) as tf.Tensor3D;
    const cm = tf.add(tf.softplus(tf.slice(proj, [0, 0, E + R], [B, T, R])), o.eps) as tf.Tensor3D;
    const A = tf.neg(tf.softplus(aLog!));
    const skip = tf.add(tf.softplus(dDiag!), o.eps);
    const flat = (t: tf.Tensor): tf.Tensor => tf.reshape(t, [B, T, E]);
    const cols = [flat(inp.v), tf.ones([B, T, E])];
    let s: tf.Tensor | undefined;
    if (branch) {
      const betaE = tf.reshape(inp.beta!, [E]);
      s = stopGradient(o.use_temperature ? tf.minimum(betaE, o.value_logexp_cap) : betaE);
      cols.push(tf.exp(tf.sub(flat(inp.a!), s)));
    }
    const G = cols.length;
    const r = selectiveScan(
      {
        x: tf.concat(cols, 2) as tf.Tensor3D,
        delta: tf.tile(delta, [1, 1, G]) as tf.Tensor3D,
        A: tf.tile(A, [G, 1]) as tf.Tensor2D,
        b: bm,
        c: cm,
        skip: tf.tile(skip, [G]) as tf.Tensor1D,
      },
      { initialState: inp.st?.['h'] === undefined ? undefined : { re: inp.st['h'] as tf.Tensor3D }, wantState: inp.wantState },
    );
    const part = (i: number): tf.Tensor => tf.slice(r.y, [0, 0, i * E], [B, T, E]);
    const normC = tf.maximum(part(1), o.eps);
    const heads = (t: tf.Tensor): tf.Tensor4D => tf.reshape(t, [B, T, H, dv]) as tf.Tensor4D;
    const mu = heads(tf.div(part(0), normC));
    const state = inp.wantState ? { h: r.finalState!.re } : undefined;
    if (!branch) return { mu, state };
    return { mu, F: heads(freeEnergy(tf.div(part(2), normC), s!, tf.reshape(inp.beta!, [E]))), state };
  }

  const prior: (inp: PriorInput) => PriorOutput = { softmax: softmaxPrior, linear: linearPrior, gla: linearPrior, rnn_softmax: aftPrior, mamba: mambaPrior }[o.prior];

  return {
    forward(x, opts = {}) {
      const [B, T] = x.shape;
      const st = opts.state;
      const wantState = opts.wantState === true;
      if (!causal && (st !== undefined || wantState)) throw new MetalaError('fem: the non-causal form has no decoding state');
      const heads = (t: tf.Tensor, w: number): tf.Tensor4D => tf.reshape(t, [B, T, H, w]) as tf.Tensor4D;
      let V = dense(x, wv.w, wv.b); // [B, T, E]
      let Q = attn ? dense(x, wq!.w, wq!.b) : undefined; // [B, T, H·d_k]
      let K = attn ? dense(x, wk!.w, wk!.b) : undefined;
      // TDC modulation: multiply by (1 + s) slice by slice.
      let sLambda: tf.Tensor | undefined;
      let sGate: tf.Tensor | undefined;
      let tdcState: MixerState | undefined;
      if (tdc !== undefined) {
        const c = conditioning(x, st, wantState);
        if (wantState) tdcState = { tdc_h: c.h!, tdc_C: c.C! };
        let at = 0;
        const take = (n: number): tf.Tensor => {
          const s = tf.add(tf.slice(c.s, [0, 0, at], [B, T, n]), 1);
          at += n;
          return s;
        };
        V = tf.mul(V, take(E));
        if (attn) {
          Q = tf.mul(Q!, take(H * dk));
          K = tf.mul(K!, take(H * dk));
        }
        if (branch) sLambda = take(E);
        if (o.use_outer_gate) sGate = take(E);
        // The GLA slice (H columns) is built but unused, as in the reference.
      }
      // Tokens seen before this call and 1-based positions of this call's tokens.
      const L = o.prior === 'softmax' ? (st?.['k']?.shape[1] ?? 0) : 0;
      const seen: tf.Tensor1D = o.prior === 'softmax' ? tf.fill([1], L) : ((st?.['count'] as tf.Tensor1D | undefined) ?? tf.zeros([1]));
      const steps = tf.add(tf.range(1, T + 1, 1, 'float32'), seen) as tf.Tensor1D;
      let qh = Q === undefined ? undefined : heads(Q, dk);
      let kh = K === undefined ? undefined : heads(K, dk);
      if (attn && o.use_rope) {
        const pos = tf.sub(steps, 1) as tf.Tensor1D;
        qh = ropeInterleaved(qh!, pos, o.rope_base);
        kh = ropeInterleaved(kh!, pos, o.rope_base);
      }
      let lambda: tf.Tensor | undefined;
      if (branch) {
        const l = dense(x, wLambda!.w, wLambda!.b);
        lambda = heads(tf.sigmoid(sLambda === undefined ? l : tf.mul(l, sLambda)), dv);
      }
      let gate: tf.Tensor | undefined;
      if (o.use_outer_gate) {
        const g = dense(x, wGate!.w, wGate!.b);
        gate = normalizeScaled(tf.add(tf.softplus(heads(sGate === undefined ? g : tf.mul(g, sGate), dv)), o.eps), 1e-5, dv);
      }
      let vh = heads(V, dv);
      if (o.prior === 'mamba') vh = tf.sigmoid(vh) as tf.Tensor4D;
      // β per channel, the clip |βv| ≤ cap, and the exponents a = βv of the exp half.
      let beta: tf.Tensor | undefined;
      let a: tf.Tensor4D | undefined;
      if (branch) {
        if (o.use_temperature) {
          beta = tf.reshape(tf.add(tf.softplus(betaParam), o.eps), [1, 1, H, dv]);
          // Broadcast explicitly: tf.maximum's gradient does not sum over broadcast axes.
          const lim = tf.add(tf.zerosLike(vh), tf.div(o.value_logexp_cap, beta));
          vh = tf.maximum(tf.minimum(vh, lim), tf.neg(lim)) as tf.Tensor4D;
          a = tf.mul(beta, vh) as tf.Tensor4D;
        } else {
          beta = tf.ones([1, 1, H, dv]);
          a = vh;
        }
      }
      const r = prior({ x, q: qh, k: kh, v: vh, a, beta, st, wantState, causal, steps });
      let oh: tf.Tensor = r.F === undefined ? r.mu : tf.add(tf.mul(tf.sub(1, lambda!), r.mu), tf.mul(lambda!, r.F));
      if (gate !== undefined) oh = tf.mul(gate, oh);
      let y = dense(tf.reshape(oh, [B, T, E]), wo.w, wo.b) as tf.Tensor3D;
      // Porting note: without temperature β_param is unused, as in the reference; it is kept in
      // the graph with a zero gradient so that every parameter has one.
      if (!o.use_temperature) y = tf.add(y, tf.mul(tf.sum(betaParam), 0)) as tf.Tensor3D;
      if (!wantState) return { y };
      const state: MixerState = { ...r.state! };
      if (tdcState !== undefined) Object.assign(state, tdcState);
      if (o.prior !== 'softmax' && o.prior !== 'mamba') state['count'] = tf.add(seen, T);
      return { y, state };
    },
  };
}

/** State floats per layer: the prior's (softmax: per token) plus the TDC's h and C. */
function stateFloats(o: Opts, D: number): number {
  const { H, E, dv, dk, Hc, R, branch } = sizes(o, D);
  const tdc = o.use_conv ? 2 * Hc : 0;
  switch (o.prior) {
    case 'softmax':
      return H * dk + E; // per token: k and v
    case 'linear':
    case 'gla':
      return H * (dk * (dv + 1) + (branch ? dk * dv + dv : 0)) + tdc + 1;
    case 'rnn_softmax':
      return H * dv * (branch ? 7 : 4) + tdc + 1;
    case 'mamba':
      return (branch ? 3 : 2) * E * R + tdc;
  }
}

export const fem = defineMixer({
  name: 'fem',
  family: 'softmax',
  cite: 'Lu & Yang 2026, Free Energy Mixer (ICLR, arXiv 2602.07160); LJC-FVNR/SequenceLab@cae594f src/sequencelab/layers/fem.py',
  form: {
    f_q: 'φ(q̃_t) (the prior\'s query; q̃ after TDC and RoPE)',
    f_k: 'φ(k̃_i)',
    f_v: '[v_i, e^{βv_i − m}] (2d_v wide)',
    f_alpha: 'the prior\'s (GLA: e^{a_t}; linear: 1; softmax: —)',
    f_g: 'g ⊙ ((1−λ) μ + λ log(·)/β)',
  },
  properties: { C0: false, C1: true, C2: true, C3: false },
  options,
  stateSize: stateFloats,
  // v, o, q, k (attention-like priors), decay (GLA), W_p, A_log, D (Mamba), λ, g, β, TDC.
  paramCount: (o, D) => {
    const { H, E, dk, Hc, R, branch, tdcOut } = sizes(o, D);
    const b = o.bias ? 1 : 0;
    const lin = (i: number, out: number): number => i * out + b * out;
    let n = lin(D, E) + lin(E, D) + E;
    if (o.prior !== 'mamba') n += 2 * lin(D, H * dk);
    if (o.prior === 'gla') n += lin(D, H);
    if (o.prior === 'mamba') n += lin(D, E + 2 * R) + E * R + E;
    if (branch) n += lin(D, E);
    if (o.use_outer_gate) n += lin(D, E);
    if (o.use_conv) n += (1 + b) * D + 3 * lin(D, Hc) + Hc * tdcOut + (1 + b) * Hc;
    return n;
  },
  create: (o, ctx) => femLayer(o, ctx, true),
  createNonCausal: (o, ctx) => femLayer(o, ctx, false),
  reference: {
    classes: ['FreeEnergyMixer'],
    fromFixture(hp) {
      if (hp['conv_bidirectional'] === true) throw new Error('conv_bidirectional: true is not ported (its backward branch is not time-reversed in the reference; docs/seed-systems.md §2)');
      if (hp['conv_norm_first'] === false) throw new Error('conv_norm_first: false is not ported');
      if (hp['mamba_normalize'] === false) throw new Error('mamba_normalize: false is not ported');
      if ((hp['fem_dim'] ?? null) !== null || (hp['qk_dim'] ?? null) !== null) throw new Error('explicit fem_dim / qk_dim are not ported (use fem_ratio, p_t_to_fem_ratio)');
      const pick = (k: string, ours = k): Record<string, unknown> => (hp[k] === undefined ? {} : { [ours]: hp[k] });
      return {
        options: {
          num_heads: hp['n_head'],
          ...pick('prior_type', 'prior'),
          ...pick('fem_ratio'),
          ...pick('p_t_to_fem_ratio'),
          ...pick('use_temperature'),
          ...pick('use_lse'),
          ...pick('use_outer_gate'),
          ...pick('use_conv'),
          ...pick('conv_hidden'),
          ...pick('use_rope'),
          ...pick('rope_theta', 'rope_base'),
          ...pick('value_logexp_cap'),
          ...pick('beta_max_init'),
          ...pick('ssm_rank'),
          ...pick('eps'),
          ...pick('bias'),
          // The reference's AFT shift is the sequence max (see aft_shift).
          ...(hp['prior_type'] === 'rnn_softmax' ? { aft_shift: 'sequence_max' } : {}),
        },
        dModel: Number(hp['n_embd']),
        causal: hp['causal'] !== false,
      };
    },
    names: {
      'W_v.weight': 'v_proj.weight',
      'W_v.bias': 'v_proj.bias',
      'W_o.weight': 'o_proj.weight',
      'W_o.bias': 'o_proj.bias',
      'W_q.weight': 'q_proj.weight',
      'W_q.bias': 'q_proj.bias',
      'W_k.weight': 'k_proj.weight',
      'W_k.bias': 'k_proj.bias',
      'W_decay.weight': 'decay_proj.weight',
      'W_decay.bias': 'decay_proj.bias',
      'W_p.weight': 'ssm_proj.weight',
      'W_p.bias': 'ssm_proj.bias',
      D_diag: 'D',
      'W_lambda.weight': 'lambda_proj.weight',
      'W_lambda.bias': 'lambda_proj.bias',
      'W_gate.weight': 'gate_proj.weight',
      'W_gate.bias': 'gate_proj.bias',
      _beta_param: 'beta',
      'tdc.fwd.norm.weight': 'tdc.norm.weight',
      'tdc.fwd.norm.bias': 'tdc.norm.bias',
      'tdc.fwd.in_f.weight': 'tdc.in_f.weight',
      'tdc.fwd.in_f.bias': 'tdc.in_f.bias',
      'tdc.fwd.x_f.weight': 'tdc.x_f.weight',
      'tdc.fwd.x_f.bias': 'tdc.x_f.bias',
      'tdc.fwd.shortcut.weight': 'tdc.shortcut.weight',
      'tdc.fwd.shortcut.bias': 'tdc.shortcut.bias',
      'tdc.fwd.ln.weight': 'tdc.ln.weight',
      'tdc.fwd.ln.bias': 'tdc.ln.bias',
      'tdc.fwd.out_proj': 'tdc.out_proj',
    },
  },
});
