// Delta rule (optionally gated), chunkwise via the WY / UT representation (reference-implementations.md
// §1.5; fla `chunk_delta_rule_fwd`, `naive_chunk_gated_delta_rule`): all chunks' UT transforms at
// once, then one loop over chunks for v_new = U − W S_n and the state.
import * as tf from '@tensorflow/tfjs';
import {
  bmm,
  decayMatrixScalar,
  expandLast,
  fromChunks,
  lastRow,
  prefixSum,
  stackSafe,
  toChunks,
  trilOnes,
  unstackSafe,
} from '../common/tensor.js';
import { unitLowerInverse } from '../common/tri_inverse.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * Chunkwise form, chunk length C = opts.chunkSize (T zero-padded; β = 0 makes padding a no-op).
 * Per chunk, γ the in-chunk cumsum of g (γ = 0 without g), Γ_ij = exp(γ_i − γ_j) for j ≤ i:
 *   T   = (I + tril(diag(β) (K Kᵀ ⊙ Γ), −1))⁻¹,  U = T (β ⊙ V),  W = T (β ⊙ K ⊙ e^γ)
 *   V'  = U − W S_n
 *   O   = scale · [ (Q ⊙ e^γ) S_n + (Q Kᵀ ⊙ Γ) V' ]
 *   S_{n+1} = e^{γ_C} S_n + (K ⊙ e^{γ_C − γ})ᵀ V'
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param beta [B,T,H]
 * @param g [B,T,H] optional per-head log decay (≤ 0): the gated delta rule
 */
export function deltaRuleChunk(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  beta: tf.Tensor3D,
  opts: ResolvedOptions,
  g?: tf.Tensor3D,
): RecurrenceResult {
  return tf.tidy(() => {
    const [b, t, h, dk] = q.shape;
    const dv = v.shape[3];
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const bh = b * h;
    const m = bh * n;
    const [q3, k3, v3] = [toChunks(q, c), toChunks(k, c), toChunks(v, c)]; // [M, C, *]
    const beta3 = toChunks(expandLast(beta), c); // [M, C, 1]
    const cum = g === undefined ? undefined : prefixSum(toChunks(expandLast(g), c)); // γ: [M, C, 1]
    // Causal weights incl. the diagonal: Γ with a decay, else the 0/1 lower-triangular mask.
    const causal = cum === undefined ? trilOnes(c) : decayMatrixScalar(cum); // [(M,) C, C]

    // UT transform, all chunks at once.
    const kk = tf.mul(bmm(k3, k3, false, true), causal); // K Kᵀ ⊙ Γ: [M, C, C]
    const a: tf.Tensor3D = tf.mul(tf.mul(beta3, kk), trilOnes(c, true)); // strictly lower part, rows scaled by β
    const tInv = unitLowerInverse(a);
    const u = bmm(tInv, tf.mul(beta3, v3)); // [M, C, V]
    const kIn = cum === undefined ? k3 : tf.mul(k3, tf.exp(cum)); // K ⊙ e^γ
    const w = bmm(tInv, tf.mul(beta3, kIn)); // [M, C, K]
    const att = tf.mul(bmm(q3, k3, false, true), causal); // Q Kᵀ ⊙ Γ: [M, C, C]

    const bLast = cum === undefined ? undefined : lastRow(cum); // γ_C: [M, 1, 1]
    const kOut = bLast === undefined ? k3 : tf.mul(k3, tf.exp(tf.sub(bLast, cum!))); // K ⊙ e^{γ_C − γ}
    const split = <R extends tf.Tensor>(x: tf.Tensor, d: number): R[] => unstackSafe<R>(tf.reshape(x, [n, bh, c, d]), 0);
    const us = split<tf.Tensor3D>(u, dv);
    const ws = split<tf.Tensor3D>(w, dk);
    const ks = split<tf.Tensor3D>(kOut, dk);
    const decays = bLast === undefined ? undefined : unstackSafe<tf.Tensor3D>(tf.reshape(tf.exp(bLast), [n, bh, 1, 1]), 0);

    // Sequential over chunks: V'_n = U_n − W_n S_n;  S_{n+1} = e^{γ_C} S_n + K̃_nᵀ V'_n.
    let s: tf.Tensor3D = opts.initialState === undefined ? tf.zeros([bh, dk, dv]) : tf.reshape(opts.initialState, [bh, dk, dv]);
    const entering: tf.Tensor3D[] = [];
    const vNew: tf.Tensor3D[] = [];
    for (let i = 0; i < n; i++) {
      entering.push(s);
      const vi: tf.Tensor3D = tf.sub(us[i]!, bmm(ws[i]!, s));
      vNew.push(vi);
      if (i < n - 1 || opts.wantState) {
        const kept = decays === undefined ? s : tf.mul(decays[i]!, s);
        s = tf.add(kept, bmm(ks[i]!, vi, true, false)) as tf.Tensor3D;
      }
    }
    const states = tf.reshape(stackSafe<tf.Tensor4D>(entering, 0), [m, dk, dv]);
    const vAll = tf.reshape(stackSafe<tf.Tensor4D>(vNew, 0), [m, c, dv]);
    const qIn = cum === undefined ? q3 : tf.mul(q3, tf.exp(cum)); // Q ⊙ e^γ
    const o3: tf.Tensor3D = tf.mul(tf.add(bmm(qIn, states), bmm(att, vAll)), opts.scale);
    const o = fromChunks(o3, b, h, t);
    return opts.wantState ? { o, finalState: tf.reshape(s, [b, h, dk, dv]) as tf.Tensor4D } : { o };
  });
}

/**
 * Quadratic form: the chunkwise algorithm with one chunk spanning the whole sequence (no state
 * loop; O(T²) memory and an O(T³)-flop triangular inverse). For short sequences and tests.
 */
export function deltaRuleParallel(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  beta: tf.Tensor3D,
  opts: ResolvedOptions,
  g?: tf.Tensor3D,
): RecurrenceResult {
  return deltaRuleChunk(q, k, v, beta, { ...opts, chunkSize: q.shape[1] }, g);
}
