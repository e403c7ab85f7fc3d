// Public entry of the HGRN elementwise linear recurrence:
//   h_t = exp(g_t) ⊙ h_{t-1} + x_t,   o_t = h_t        (x, g: [B,T,D]; state [B,D])
// Validates shapes, fills defaults and dispatches to the naive / parallel (scan) / chunk forms.
import type * as tf from '@tensorflow/tfjs';
import type { Form, RecurrenceResult, RecurrenceResultWithState, StatePass } from '../common/types.js';
import type { ChunkDefaults } from '../common/validate.js';
import { noFusedForm } from '../common/validate.js';
import { dims, expectShape, resolveForm, resolveOptions } from '../common/validate.js';
import { hgrnChunk } from './chunk.js';
import { hgrnNaive } from './naive.js';
import { hgrnParallel } from './parallel.js';

export { hgrnChunk, hgrnNaive, hgrnParallel };

/** Chunking when form 'chunk' is asked for (the default form is the scan, 'parallel'). */
export const HGRN_DEFAULTS: ChunkDefaults = { gpu: { chunkSize: 16, statePass: 'scan' }, cpu: { chunkSize: 16, statePass: 'loop' } };

export interface HgrnOptions {
  /** h_0, [B,D]; default zeros. */
  initialState?: tf.Tensor2D;
  /** Default: 'parallel' (log-depth scan) for T > 1, 'naive' for T = 1. */
  form?: Form;
  chunkSize?: number;
  /** Return the final state (default true). */
  wantState?: boolean;
  /** Chunk form only: 'loop' (default) or 'scan' between chunks (see RecurrenceOptions). */
  statePass?: StatePass;
}

/**
 * HGRN's elementwise gated linear recurrence.
 * @param x [B,T,D] input
 * @param g [B,T,D] log forget gate, ≤ 0
 * @param opts initialState [B,D], form, chunkSize, wantState
 * @returns o [B,T,D] (all h_t) and finalState [B,D] (undefined when wantState is false)
 */
export function hgrn(x: tf.Tensor3D, g: tf.Tensor3D, opts: HgrnOptions & { wantState: false }): RecurrenceResult<tf.Tensor3D, tf.Tensor2D>;
export function hgrn(x: tf.Tensor3D, g: tf.Tensor3D, opts?: HgrnOptions & { wantState?: true }): RecurrenceResultWithState<tf.Tensor3D, tf.Tensor2D>;
export function hgrn(x: tf.Tensor3D, g: tf.Tensor3D, opts?: HgrnOptions): RecurrenceResult<tf.Tensor3D, tf.Tensor2D>;
export function hgrn(x: tf.Tensor3D, g: tf.Tensor3D, opts: HgrnOptions = {}): RecurrenceResult<tf.Tensor3D, tf.Tensor2D> {
  const op = 'hgrn';
  const [b, t, d] = dims(op, 'x', x, 3, '[B,T,D]') as [number, number, number];
  expectShape(op, 'g', g, [b, t, d], '[B,T,D]');
  if (opts.initialState !== undefined) expectShape(op, 'initialState', opts.initialState, [b, d], '[B,D]');
  const resolved = resolveOptions(op, opts, d, HGRN_DEFAULTS);
  switch (resolveForm(op, opts.form, t, 'parallel')) {
    case 'naive':
      return hgrnNaive(x, g, resolved);
    case 'parallel':
      return hgrnParallel(x, g, resolved);
    case 'chunk':
      return hgrnChunk(x, g, resolved);
    case 'fused':
      throw noFusedForm(op);
  }
}
