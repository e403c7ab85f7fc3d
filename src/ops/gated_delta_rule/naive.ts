// Gated delta rule (Gated DeltaNet), step-by-step reference:
//   S_t = exp(g_t) S_{t-1};  S_t = S_t + β_t k_tᵀ (v_t − k_t S_t);  o_t = scale · q_t S_t
// Ports fla's `naive_recurrent_gated_delta_rule`; shares the loop with the plain delta rule.
import type * as tf from '@tensorflow/tfjs';
import { deltaRuleNaive } from '../delta_rule/naive.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * One loop over t; state [B,H,K,V].
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H] per-head log decay (≤ 0)
 * @param beta [B,T,H]
 */
export function gatedDeltaRuleNaive(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, beta: tf.Tensor3D, opts: ResolvedOptions): RecurrenceResult {
  return deltaRuleNaive(q, k, v, beta, opts, g);
}
