// Gated (GLA / MetaLA) linear attention as one masked quadratic form over the whole sequence:
//   o_i = scale · [ (q_i ⊙ exp(b_i)) S_0 + Σ_{j≤i} (Σ_d q_i,d k_j,d exp(b_i,d − b_j,d)) v_j ],  b_i = Σ_{t≤i} g_t
// (paper-metala.md §1.2 / §3.8 with one chunk spanning T). Memory O(T²·K) per head: for tests and short T.
import * as tf from '@tensorflow/tfjs';
import { decayMatrixChannels, lastRow, prefixSum } from '../common/tensor.js';
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
 * @param g [B,T,H,K] per-channel log decay (≤ 0)
 */
export function glaParallel(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: ResolvedOptions): RecurrenceResult {
  return tf.tidy(() => {
    const [b, t, h, dk] = q.shape;
    const dv = v.shape[3];
    const [q3, k3, v3] = [headFirst(q), headFirst(k), headFirst(v)];
    const cum = prefixSum(headFirst(g)); // b_i: [BH, T, K], non-increasing
    const e = decayMatrixChannels(cum); // exp(b_i − b_j), j ≤ i: [BH, T, T, K]
    // P_ij = Σ_d q_i,d k_j,d exp(b_i,d − b_j,d): [BH, T, T]
    const p = tf.sum(tf.mul(tf.reshape(q3, [b * h, t, 1, dk]), tf.mul(tf.reshape(k3, [b * h, 1, t, dk]), e)), 3);
    let o = tf.matMul(p, v3); // [BH, T, V]
    const s0 = opts.initialState === undefined ? undefined : tf.reshape(opts.initialState, [b * h, dk, dv]);
    if (s0 !== undefined) o = tf.add(o, tf.matMul(tf.mul(q3, tf.exp(cum)), s0));
    o = tf.mul(o, opts.scale);
    const out = tf.transpose(tf.reshape(o, [b, h, t, dv]), [0, 2, 1, 3]) as tf.Tensor4D;
    if (!opts.wantState) return { o: out };
    // S_T = diag(exp(b_T)) S_0 + Σ_j (k_j ⊙ exp(b_T − b_j))ᵀ v_j; both exponents ≤ 0.
    const bLast = lastRow(cum); // [BH, 1, K]
    let s = tf.matMul(tf.mul(k3, tf.exp(tf.sub(bLast, cum))), v3, true, false); // [BH, K, V]
    if (s0 !== undefined) s = tf.add(s, tf.mul(tf.reshape(tf.exp(bLast), [b * h, dk, 1]), s0));
    return { o: out, finalState: tf.reshape(s, [b, h, dk, dv]) as tf.Tensor4D };
  });
}
