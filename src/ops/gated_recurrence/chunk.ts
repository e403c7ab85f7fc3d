// Gated (GLA / MetaLA) linear attention, chunkwise: exact intra-chunk quadratic term + inter-chunk
// state passing (paper-metala.md §3.8; fla `chunk_gla_fwd` + `chunk_fwd_kernel_h`, reference-
// implementations.md §1.4). All chunks' intra terms are computed at once; only the state loops.
import * as tf from '@tensorflow/tfjs';
import { passStates } from '../common/state_pass.js';
import { bmm, decayMatrixChannels, fromChunks, lastRow, prefixSum, toChunks } from '../common/tensor.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * Chunkwise form with chunk length C = opts.chunkSize (T zero-padded to N·C: g = 0, k = v = q = 0
 * leaves the state unchanged). Per chunk with incoming state S_n and in-chunk cumsum b_i:
 *   o_i     = scale · [ (q_i ⊙ exp(b_i)) S_n + Σ_{j≤i} (Σ_d q_i,d k_j,d exp(b_i,d − b_j,d)) v_j ]
 *   S_{n+1} = diag(exp(b_C)) S_n + Σ_j (k_j ⊙ exp(b_C − b_j))ᵀ v_j
 * Every exponent is ≤ 0, so nothing overflows whatever the decay (the [C,C,K] difference tensor
 * replaces fla's sub-chunk factorisation).
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H,K] per-channel log decay (≤ 0)
 */
export function glaChunk(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: ResolvedOptions): RecurrenceResult {
  return tf.tidy(() => {
    const [b, t, h, dk] = q.shape;
    const dv = v.shape[3];
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const bh = b * h;
    const m = bh * n; // number of chunks over batch and heads
    const [q3, k3, v3] = [toChunks(q, c), toChunks(k, c), toChunks(v, c)]; // [M, C, *]
    const cum = prefixSum(toChunks(g, c)); // in-chunk b_i: [M, C, K]

    // Intra-chunk: P_ij = Σ_d q_i,d · (k_j,d exp(b_i,d − b_j,d)), as a batched mat-vec per row i.
    const ke = tf.mul(tf.reshape(k3, [m, 1, c, dk]), decayMatrixChannels(cum)); // [M, C(i), C(j), K]
    const p = bmm(tf.reshape(ke, [m * c, c, dk]), tf.reshape(q3, [m * c, dk, 1])); // [M·C, C, 1]
    const intra = bmm(tf.reshape(p, [m, c, c]), v3); // [M, C, V]

    // Inter-chunk pieces, for all chunks at once.
    const bLast = lastRow(cum); // b_C: [M, 1, K]
    const qDecayed = tf.mul(q3, tf.exp(cum)); // q_i ⊙ exp(b_i)
    const kDecayed = tf.mul(k3, tf.exp(tf.sub(bLast, cum))); // k_j ⊙ exp(b_C − b_j)
    const writes = tf.reshape(bmm(kDecayed, v3, true, false), [n, bh, dk, dv]); // Σ_j (k_j ⊙ exp(b_C − b_j))ᵀ v_j

    // The only sequential part: S_{n+1} = diag(exp(b_C)) S_n + writes_n (loop over N = T/C chunks, or a scan).
    const s0 = opts.initialState === undefined ? undefined : tf.reshape(opts.initialState, [bh, dk, dv]);
    const passed = passStates(writes, tf.reshape(bLast, [n, bh, dk, 1]), s0, opts.statePass, opts.wantState);
    const states = tf.reshape(passed.entering, [m, dk, dv]); // state entering each chunk
    const o3: tf.Tensor3D = tf.mul(tf.add(bmm(qDecayed, states), intra), opts.scale); // [M, C, V]
    const o = fromChunks(o3, b, h, t);
    return passed.final === undefined ? { o } : { o, finalState: tf.reshape(passed.final, [b, h, dk, dv]) as tf.Tensor4D };
  });
}
