// HGRN elementwise linear recurrence, step-by-step reference:
//   h_t = exp(g_t) ⊙ h_{t-1} + x_t,   o_t = h_t        (x, g, h: [B,T,D]; state [B,D])
// Ports fla's `naive_recurrent_hgrn` (fla/ops/hgrn/naive.py); the oracle for tests.
import * as tf from '@tensorflow/tfjs';
import { stackSafe, unstackSafe } from '../common/tensor.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * One loop over t.
 * @param x [B,T,D] input
 * @param g [B,T,D] log forget gate (≤ 0)
 */
export function hgrnNaive(x: tf.Tensor3D, g: tf.Tensor3D, opts: ResolvedOptions<tf.Tensor2D>): RecurrenceResult<tf.Tensor3D, tf.Tensor2D> {
  return tf.tidy(() => {
    const [b, , d] = x.shape;
    const xs = unstackSafe<tf.Tensor2D>(x, 1);
    const gs = unstackSafe<tf.Tensor2D>(g, 1);
    let h: tf.Tensor2D = opts.initialState ?? tf.zeros([b, d]);
    const os: tf.Tensor2D[] = [];
    xs.forEach((xt, t) => {
      h = tf.add(tf.mul(tf.exp(gs[t]!), h), xt);
      os.push(h);
    });
    const o = stackSafe<tf.Tensor3D>(os, 1);
    return opts.wantState ? { o, finalState: h } : { o };
  });
}
