// Scalar-decay (per-head) linear attention, step-by-step reference:
//   S_t = exp(g_t) S_{t-1} + k_tᵀ v_t,   o_t = scale · q_t S_t,   g_t a scalar per head
// Ports fla's simple_gla recurrence (fla/ops/simple_gla; RetNet when g is constant); the test oracle.
import * as tf from '@tensorflow/tfjs';
import { stackSafe, unstackSafe } from '../common/tensor.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * One loop over t; state [B,H,K,V].
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H] per-head log decay (≤ 0)
 */
export function simpleGlaNaive(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, opts: ResolvedOptions): RecurrenceResult {
  return tf.tidy(() => {
    const [b, , h, dk] = q.shape;
    const dv = v.shape[3];
    const qs = unstackSafe<tf.Tensor3D>(q, 1);
    const ks = unstackSafe(k, 1);
    const vs = unstackSafe(v, 1);
    const gs = unstackSafe(g, 1); // [B,H]
    let s: tf.Tensor4D = opts.initialState ?? tf.zeros([b, h, dk, dv]);
    const os: tf.Tensor[] = [];
    qs.forEach((qt, t) => {
      const decay = tf.reshape(tf.exp(gs[t]!), [b, h, 1, 1]);
      const outer = tf.mul(tf.reshape(ks[t]!, [b, h, dk, 1]), tf.reshape(vs[t]!, [b, h, 1, dv])); // k_tᵀ v_t
      s = tf.add(tf.mul(decay, s), outer);
      os.push(tf.sum(tf.mul(tf.reshape(qt, [b, h, dk, 1]), s), 2)); // q_t S_t: [B,H,V]
    });
    const o = tf.mul(stackSafe(os, 1), opts.scale) as tf.Tensor4D;
    return opts.wantState ? { o, finalState: s } : { o };
  });
}
