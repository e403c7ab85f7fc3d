// HGRN elementwise recurrence, chunkwise: exact in-chunk sums with exp(b_i − b_j) (≤ 1) for all
// chunks at once, then one loop over chunks for the carried state (the GLA chunk algorithm of
// paper-metala.md §3.8 with a diagonal state; fla `chunk_hgrn` splits the same way).
import * as tf from '@tensorflow/tfjs';
import { passStates } from '../common/state_pass.js';
import { decayMatrixChannels, lastRow, padTime, prefixSum } from '../common/tensor.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * Chunkwise form, chunk length C = opts.chunkSize (T zero-padded: g = 0, x = 0 is a no-op).
 *   local_i = Σ_{j≤i in chunk} exp(b_i − b_j) x_j,   h_i = local_i + exp(b_i) ⊙ h_n,
 *   h_{n+1} = exp(b_C) ⊙ h_n + local_C
 * @param x [B,T,D] input
 * @param g [B,T,D] log forget gate (≤ 0)
 */
export function hgrnChunk(x: tf.Tensor3D, g: tf.Tensor3D, opts: ResolvedOptions<tf.Tensor2D>): RecurrenceResult<tf.Tensor3D, tf.Tensor2D> {
  return tf.tidy(() => {
    const [b, t, d] = x.shape;
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const m = b * n;
    // [B, T, D] → [N·B, C, D], chunk-major (row m = n·B + b) so chunks unstack as contiguous slices.
    const chunked = (y: tf.Tensor3D): tf.Tensor3D => tf.reshape(tf.transpose(tf.reshape(padTime(y, n * c), [b, n, c, d]), [1, 0, 2, 3]), [m, c, d]);
    const x3 = chunked(x);
    const cum = prefixSum(chunked(g)); // in-chunk b_i
    const e = decayMatrixChannels(cum); // [M, C(i), C(j), D]
    const local: tf.Tensor3D = tf.sum(tf.mul(e, tf.reshape(x3, [m, 1, c, d])), 2); // [M, C, D]

    // h_{n+1} = exp(b_C) ⊙ h_n + local_C, over the N chunks (loop or scan).
    const passed = passStates(tf.reshape(lastRow(local), [n, b, d]), tf.reshape(lastRow(cum), [n, b, d]), opts.initialState, opts.statePass, opts.wantState);
    const hIn = tf.reshape(passed.entering, [m, 1, d]);
    const o3 = tf.add(local, tf.mul(tf.exp(cum), hIn)); // [M, C, D]
    let o: tf.Tensor3D = tf.reshape(tf.transpose(tf.reshape(o3, [n, b, c, d]), [1, 0, 2, 3]), [b, n * c, d]);
    if (n * c !== t) o = tf.slice(o, [0, 0, 0], [b, t, d]);
    return passed.final === undefined ? { o } : { o, finalState: passed.final as tf.Tensor2D };
  });
}
