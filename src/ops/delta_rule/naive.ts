// Delta rule (DeltaNet) and its gated variant, step-by-step reference:
//   S_t = exp(g_t) S_{t-1} (gated only),  S_t = S_t + β_t k_tᵀ (v_t − k_t S_t),  o_t = scale · q_t S_t
// Ports fla's `delta_rule_recurrence` / `naive_recurrent_gated_delta_rule`; q, k are NOT normalised here.
import * as tf from '@tensorflow/tfjs';
import { stackSafe, unstackSafe } from '../common/tensor.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * One loop over t; state [B,H,K,V]. With `g` this is the gated delta rule.
 * @param q [B,T,H,K]
 * @param k [B,T,H,K] (callers L2-normalise k for a stable rule)
 * @param v [B,T,H,V]
 * @param beta [B,T,H] write strength, in (0, 1) (or (0, 2) with negative eigenvalues)
 * @param g [B,T,H] optional per-head log decay (≤ 0)
 */
export function deltaRuleNaive(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  beta: tf.Tensor3D,
  opts: ResolvedOptions,
  g?: tf.Tensor3D,
): RecurrenceResult {
  return tf.tidy(() => {
    const [b, , h, dk] = q.shape;
    const dv = v.shape[3];
    const qs = unstackSafe<tf.Tensor3D>(q, 1);
    const ks = unstackSafe(k, 1);
    const vs = unstackSafe(v, 1);
    const betas = unstackSafe(beta, 1); // [B,H]
    const gs = g === undefined ? undefined : unstackSafe(g, 1);
    let s: tf.Tensor4D = opts.initialState ?? tf.zeros([b, h, dk, dv]);
    const os: tf.Tensor[] = [];
    qs.forEach((qt, t) => {
      if (gs !== undefined) s = tf.mul(tf.reshape(tf.exp(gs[t]!), [b, h, 1, 1]), s);
      const kt = tf.reshape(ks[t]!, [b, h, dk, 1]);
      const predicted = tf.sum(tf.mul(kt, s), 2); // k_t S: [B,H,V]
      const u = tf.mul(tf.reshape(betas[t]!, [b, h, 1]), tf.sub(vs[t]!, predicted)); // β_t (v_t − k_t S)
      s = tf.add(s, tf.mul(kt, tf.reshape(u, [b, h, 1, dv])));
      os.push(tf.sum(tf.mul(tf.reshape(qt, [b, h, dk, 1]), s), 2)); // q_t S_t
    });
    const o = tf.mul(stackSafe(os, 1), opts.scale) as tf.Tensor4D;
    return opts.wantState ? { o, finalState: s } : { o };
  });
}
