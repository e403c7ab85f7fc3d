// Public entry of scalar-decay linear attention (simple GLA; RetNet when g is constant per head):
//   S_t = exp(g_t) S_{t-1} + k_tᵀ v_t,   o_t = scale · q_t S_t,   g [B,T,H]
// Validates shapes, fills defaults and dispatches to the naive / parallel / chunk forms.
import * as tf from '@tensorflow/tfjs';
import type { RecurrenceOptions, RecurrenceResult, RecurrenceResultWithState } from '../common/types.js';
import type { ChunkDefaults } from '../common/validate.js';
import { dims, expectShape, resolveForm, resolveOptions } from '../common/validate.js';
import { glaFusedAvailable } from '../gated_recurrence/fused.js';
import { glaFusedAuto } from '../gated_recurrence/index.js';
import { simpleGlaChunk } from './chunk.js';
import { simpleGlaNaive } from './naive.js';
import { simpleGlaParallel } from './parallel.js';

export { simpleGlaChunk, simpleGlaNaive, simpleGlaParallel };

/** Default chunking (measured; the decay matrix is only [C,C] per chunk, so C can be larger than gla's). */
export const SIMPLE_GLA_DEFAULTS: ChunkDefaults = { gpu: { chunkSize: 64, statePass: 'scan' }, cpu: { chunkSize: 32, statePass: 'loop' } };

/**
 * Linear attention with a scalar decay per head and time step.
 * @param q [B,T,H,K] queries (scaled by `opts.scale`, default K^-0.5)
 * @param k [B,T,H,K] keys
 * @param v [B,T,H,V] values
 * @param g [B,T,H] log decay, ≤ 0
 * @param opts scale, initialState [B,H,K,V], form, chunkSize, wantState
 * @returns o [B,T,H,V] and finalState [B,H,K,V] (undefined when wantState is false)
 */
export function simpleGla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, opts: RecurrenceOptions & { wantState: false }): RecurrenceResult;
export function simpleGla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, opts?: RecurrenceOptions & { wantState?: true }): RecurrenceResultWithState;
export function simpleGla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, opts?: RecurrenceOptions): RecurrenceResult;
export function simpleGla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, opts: RecurrenceOptions = {}): RecurrenceResult {
  const op = 'simpleGla';
  const [b, t, h, dk] = dims(op, 'q', q, 4, '[B,T,H,K]') as [number, number, number, number];
  expectShape(op, 'k', k, [b, t, h, dk], '[B,T,H,K]');
  expectShape(op, 'g', g, [b, t, h], '[B,T,H]');
  expectShape(op, 'v', v, [b, t, h, undefined], '[B,T,H,V]');
  const dv = v.shape[3];
  if (opts.initialState !== undefined) expectShape(op, 'initialState', opts.initialState, [b, h, dk, dv], '[B,H,K,V]');
  const resolved = resolveOptions(op, opts, dk, SIMPLE_GLA_DEFAULTS);
  switch (resolveForm(op, opts.form, t, glaFusedAvailable() ? 'fused' : 'chunk')) {
    case 'fused':
      // The per-channel kernels (chunkwise or sequential, as for gla) with the head's scalar decay
      // broadcast over K (its gradient sums back).
      return tf.tidy(() => glaFusedAuto(q, k, v, g.expandDims(3).tile([1, 1, 1, q.shape[3]]) as tf.Tensor4D, resolved) as unknown as tf.TensorContainer) as unknown as RecurrenceResult;
    case 'naive':
      return simpleGlaNaive(q, k, v, g, resolved);
    case 'parallel':
      return simpleGlaParallel(q, k, v, g, resolved);
    case 'chunk':
      return simpleGlaChunk(q, k, v, g, resolved);
  }
}
