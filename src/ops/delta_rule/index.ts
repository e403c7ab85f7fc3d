// Public entry of the delta rule (DeltaNet):
//   S_t = S_{t-1} + β_t k_tᵀ (v_t − k_t S_{t-1}),   o_t = scale · q_t S_t
// Validates shapes, fills defaults and dispatches to the naive / parallel / chunk (WY/UT) forms.
import type * as tf from '@tensorflow/tfjs';
import type { RecurrenceOptions, RecurrenceResult, RecurrenceResultWithState } from '../common/types.js';
import type { ChunkDefaults } from '../common/validate.js';
import { noFusedForm } from '../common/validate.js';
import { dims, expectShape, resolveForm, resolveOptions } from '../common/validate.js';
import { deltaRuleChunk, deltaRuleParallel } from './chunk.js';
import { deltaRuleNaive } from './naive.js';

export { deltaRuleChunk, deltaRuleNaive, deltaRuleParallel };

/**
 * Default chunking of the WY/UT form (measured; powers of two suit the doubling triangular inverse).
 * The chunk-to-chunk transition is a full matrix, so the state pass is always a loop.
 */
export const DELTA_RULE_DEFAULTS: ChunkDefaults = { gpu: { chunkSize: 32, statePass: 'loop' }, cpu: { chunkSize: 16, statePass: 'loop' } };

/**
 * Check the shapes shared by deltaRule and gatedDeltaRule; returns [B, T, H, K].
 * @internal
 */
export function checkDeltaInputs(
  op: string,
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  beta: tf.Tensor3D,
  initialState: tf.Tensor4D | undefined,
): [number, number, number, number] {
  const [b, t, h, dk] = dims(op, 'q', q, 4, '[B,T,H,K]') as [number, number, number, number];
  expectShape(op, 'k', k, [b, t, h, dk], '[B,T,H,K]');
  expectShape(op, 'v', v, [b, t, h, undefined], '[B,T,H,V]');
  expectShape(op, 'beta', beta, [b, t, h], '[B,T,H]');
  if (initialState !== undefined) expectShape(op, 'initialState', initialState, [b, h, dk, v.shape[3]], '[B,H,K,V]');
  return [b, t, h, dk];
}

/**
 * DeltaNet's delta rule. q and k are used as given: L2-normalise them before the call (as DeltaNet's
 * layer does); the golden fixtures feed unit-norm q, k.
 * @param q [B,T,H,K] queries (scaled by `opts.scale`, default K^-0.5)
 * @param k [B,T,H,K] keys (unit norm for a stable rule)
 * @param v [B,T,H,V] values
 * @param beta [B,T,H] write strength β_t
 * @param opts scale, initialState [B,H,K,V], form, chunkSize, wantState
 * @returns o [B,T,H,V] and finalState [B,H,K,V] (undefined when wantState is false)
 */
export function deltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, beta: tf.Tensor3D, opts: RecurrenceOptions & { wantState: false }): RecurrenceResult;
export function deltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, beta: tf.Tensor3D, opts?: RecurrenceOptions & { wantState?: true }): RecurrenceResultWithState;
export function deltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, beta: tf.Tensor3D, opts?: RecurrenceOptions): RecurrenceResult;
export function deltaRule(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, beta: tf.Tensor3D, opts: RecurrenceOptions = {}): RecurrenceResult {
  const op = 'deltaRule';
  const [, t, , dk] = checkDeltaInputs(op, q, k, v, beta, opts.initialState);
  const resolved = resolveOptions(op, opts, dk, DELTA_RULE_DEFAULTS);
  switch (resolveForm(op, opts.form, t)) {
    case 'naive':
      return deltaRuleNaive(q, k, v, beta, resolved);
    case 'parallel':
      return deltaRuleParallel(q, k, v, beta, resolved);
    case 'chunk':
      return deltaRuleChunk(q, k, v, beta, resolved);
    case 'fused':
      throw noFusedForm(op);
  }
}
