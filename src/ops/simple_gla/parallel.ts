// Scalar-decay linear attention as one masked quadratic form (RetNet's parallel form):
//   o = scale · [ ((Q Kᵀ) ⊙ Γ) V + (Q ⊙ exp(b)) S_0 ],   Γ_ij = exp(b_i − b_j) for j ≤ i, b = cumsum(g)
// (fla `parallel_simple_gla`, reference-implementations.md §1.4). Memory O(T²) per head.
import * as tf from '@tensorflow/tfjs';
import { decayMatrixScalar, lastRow, prefixSum } from '../common/tensor.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/** [B,T,H,D] → [B·H, T, D]. */
function headFirst(x: tf.Tensor4D): tf.Tensor3D {
  const [b, t, h, d] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b * h, t, d]);
}

/**
 * Quadratic (attention-like) form.
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H] per-head log decay (≤ 0)
 */
export function simpleGlaParallel(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, opts: ResolvedOptions): RecurrenceResult {
  return tf.tidy(() => {
    const [b, t, h, dk] = q.shape;
    const dv = v.shape[3];
    const [q3, k3, v3] = [headFirst(q), headFirst(k), headFirst(v)];
    const cum = prefixSum(headFirst(tf.expandDims(g, 3) as tf.Tensor4D)); // b_i: [BH, T, 1]
    const att = tf.mul(tf.matMul(q3, k3, false, true), decayMatrixScalar(cum)); // (Q Kᵀ) ⊙ Γ: [BH, T, T]
    let o = tf.matMul(att, v3);
    const s0 = opts.initialState === undefined ? undefined : tf.reshape(opts.initialState, [b * h, dk, dv]);
    if (s0 !== undefined) o = tf.add(o, tf.mul(tf.exp(cum), tf.matMul(q3, s0))); // exp(b_i) q_i S_0
    o = tf.mul(o, opts.scale);
    const out = tf.transpose(tf.reshape(o, [b, h, t, dv]), [0, 2, 1, 3]) as tf.Tensor4D;
    if (!opts.wantState) return { o: out };
    // S_T = exp(b_T) S_0 + Σ_j exp(b_T − b_j) k_jᵀ v_j.
    const bLast = lastRow(cum); // [BH, 1, 1]
    let s = tf.matMul(tf.mul(k3, tf.exp(tf.sub(bLast, cum))), v3, true, false); // [BH, K, V]
    if (s0 !== undefined) s = tf.add(s, tf.mul(tf.exp(bLast), s0));
    return { o: out, finalState: tf.reshape(s, [b, h, dk, dv]) as tf.Tensor4D };
  });
}
