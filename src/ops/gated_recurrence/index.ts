// Public entry of the per-channel gated recurrence (GLA; MetaLA with k = 1 − exp(g)):
//   S_t = diag(exp(g_t)) S_{t-1} + k_tᵀ v_t,   o_t = scale · q_t S_t
// Validates shapes, fills defaults and dispatches to the naive / parallel / chunk forms.
import type * as tf from '@tensorflow/tfjs';
import type { RecurrenceOptions, RecurrenceResult, RecurrenceResultWithState } from '../common/types.js';
import type { ChunkDefaults } from '../common/validate.js';
import { dims, expectShape, naiveUpTo, resolveForm, resolveOptions } from '../common/validate.js';
import { glaChunk } from './chunk.js';
import { glaFused, glaFusedAvailable } from './fused.js';
import { glaNaive } from './naive.js';
import { glaParallel } from './parallel.js';

export { glaChunk, glaFused, glaNaive, glaParallel };

/**
 * Default chunking (measured, src/ops/README.md): the [C,C,K] decay tensor costs C·K floats per
 * token, so C stays small; webgpu prefers C = 32 with the scan between chunks.
 */
export const GLA_DEFAULTS: ChunkDefaults = { gpu: { chunkSize: 32, statePass: 'scan' }, cpu: { chunkSize: 16, statePass: 'loop' } };

/**
 * Gated linear attention with per-channel decay.
 * @param q [B,T,H,K] queries (scaled by `opts.scale`, default K^-0.5)
 * @param k [B,T,H,K] keys
 * @param v [B,T,H,V] values
 * @param g [B,T,H,K] log decay, ≤ 0 (e.g. logsigmoid(z)/16)
 * @param opts scale, initialState [B,H,K,V], form, chunkSize, wantState
 * @returns o [B,T,H,V] and finalState [B,H,K,V] (undefined when wantState is false)
 */
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: RecurrenceOptions & { wantState: false }): RecurrenceResult;
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts?: RecurrenceOptions & { wantState?: true }): RecurrenceResultWithState;
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts?: RecurrenceOptions): RecurrenceResult;
export function gla(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: RecurrenceOptions = {}): RecurrenceResult {
  const op = 'gla';
  const [b, t, h, dk] = dims(op, 'q', q, 4, '[B,T,H,K]') as [number, number, number, number];
  expectShape(op, 'k', k, [b, t, h, dk], '[B,T,H,K]');
  expectShape(op, 'g', g, [b, t, h, dk], '[B,T,H,K]');
  expectShape(op, 'v', v, [b, t, h, undefined], '[B,T,H,V]');
  const dv = v.shape[3];
  if (opts.initialState !== undefined) expectShape(op, 'initialState', opts.initialState, [b, h, dk, dv], '[B,H,K,V]');
  const resolved = resolveOptions(op, opts, dk, GLA_DEFAULTS);
  switch (resolveForm(op, opts.form, t, glaFusedAvailable() ? 'fused' : 'chunk', naiveUpTo())) {
    case 'fused':
      return glaFused(q, k, v, g, resolved);
    case 'naive':
      return glaNaive(q, k, v, g, resolved);
    case 'parallel':
      return glaParallel(q, k, v, g, resolved);
    case 'chunk':
      return glaChunk(q, k, v, g, resolved);
  }
}
