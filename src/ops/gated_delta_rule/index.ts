// Public entry of the gated delta rule (Gated DeltaNet):
//   S_t = exp(g_t) S_{t-1};  S_t = S_t + β_t k_tᵀ (v_t − k_t S_t);  o_t = scale · q_t S_t
// Validates shapes, fills defaults and dispatches to the naive / parallel / chunk (WY/UT) forms.
import type * as tf from '@tensorflow/tfjs';
import type { RecurrenceOptions, RecurrenceResult, RecurrenceResultWithState } from '../common/types.js';
import { expectShape, resolveForm, resolveOptions } from '../common/validate.js';
import { noFusedForm } from '../common/validate.js';
import { DELTA_RULE_DEFAULTS, checkDeltaInputs } from '../delta_rule/index.js';
import { gatedDeltaRuleChunk, gatedDeltaRuleParallel } from './chunk.js';
import { gatedDeltaRuleNaive } from './naive.js';

export { gatedDeltaRuleChunk, gatedDeltaRuleNaive, gatedDeltaRuleParallel };

/**
 * Gated DeltaNet's recurrence (argument order as fla's `chunk_gated_delta_rule(q, k, v, g, beta)`).
 * q and k are used as given: L2-normalise them before the call.
 * @param q [B,T,H,K] queries (scaled by `opts.scale`, default K^-0.5)
 * @param k [B,T,H,K] keys (unit norm for a stable rule)
 * @param v [B,T,H,V] values
 * @param g [B,T,H] log decay, ≤ 0
 * @param beta [B,T,H] write strength β_t
 * @param opts scale, initialState [B,H,K,V], form, chunkSize, wantState
 * @returns o [B,T,H,V] and finalState [B,H,K,V] (undefined when wantState is false)
 */
export function gatedDeltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, beta: tf.Tensor3D, opts: RecurrenceOptions & { wantState: false }): RecurrenceResult;
export function gatedDeltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, beta: tf.Tensor3D, opts?: RecurrenceOptions & { wantState?: true }): RecurrenceResultWithState;
export function gatedDeltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, beta: tf.Tensor3D, opts?: RecurrenceOptions): RecurrenceResult;
export function gatedDeltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, beta: tf.Tensor3D, opts: RecurrenceOptions = {}): RecurrenceResult {
  const op = 'gatedDeltaRule';
  const [b, t, h, dk] = checkDeltaInputs(op, q, k, v, beta, opts.initialState);
  expectShape(op, 'g', g, [b, t, h], '[B,T,H]');
  const resolved = resolveOptions(op, opts, dk, DELTA_RULE_DEFAULTS);
  switch (resolveForm(op, opts.form, t)) {
    case 'naive':
      return gatedDeltaRuleNaive(q, k, v, g, beta, resolved);
    case 'parallel':
      return gatedDeltaRuleParallel(q, k, v, g, beta, resolved);
    case 'chunk':
      return gatedDeltaRuleChunk(q, k, v, g, beta, resolved);
    case 'fused':
      throw noFusedForm(op);
  }
}
