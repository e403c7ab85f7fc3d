// HGRN elementwise recurrence h_t = exp(g_t) ⊙ h_{t-1} + x_t as a log-depth parallel scan
// (Hillis–Steele over the associative pair (log decay, value), common/scan.ts); ⌈log2 T⌉
// elementwise steps, no sequential loop over T. Decays are only exponentiated as ≤ 0 sums.
import * as tf from '@tensorflow/tfjs';
import { linearScan } from '../common/scan.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * Scan over time (common/scan.ts); the cumulative log decay A_t = Σ_{j≤t} g_j it also returns
 * carries the initial state: h_t += exp(A_t) h_0.
 * @param x [B,T,D] input
 * @param g [B,T,D] log forget gate (≤ 0)
 */
export function hgrnParallel(x: tf.Tensor3D, g: tf.Tensor3D, opts: ResolvedOptions<tf.Tensor2D>): RecurrenceResult<tf.Tensor3D, tf.Tensor2D> {
  return tf.tidy(() => {
    const [b, t, d] = x.shape;
    const scanned = linearScan(x, g, 1);
    let h = scanned.h;
    if (opts.initialState !== undefined) h = tf.add(h, tf.mul(tf.exp(scanned.cumA), tf.reshape(opts.initialState, [b, 1, d])));
    if (!opts.wantState) return { o: h };
    return { o: h, finalState: tf.reshape(tf.slice(h, [0, t - 1, 0], [b, 1, d]), [b, d]) as tf.Tensor2D };
  });
}
