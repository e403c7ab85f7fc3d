// Public entry of the complex diagonal linear recurrence (LRU's scan, Orvieto et al. 2023):
//   h_t = λ_t ⊙ h_{t−1} + x_t,   λ_t = exp(logMag_t + i·phase_t)    (x, λ: [B,T,N]; state [B,2,N])
// carried as two real channels. Forms: naive (step loop), parallel (log-depth scan, default T > 1).
import type * as tf from '@tensorflow/tfjs';
import { dims, expectShape } from '../common/validate.js';
import { complexScanNaive } from './naive.js';
import { complexScanParallel } from './parallel.js';
import type { ComplexScanResult } from './types.js';

export { complexScanNaive, complexScanParallel };
export type { ComplexScanResult };

export interface ComplexScanOptions {
  /** h_0 as (re, im) [B,2,N]; default zeros. */
  initialState?: tf.Tensor3D;
  /** Default: 'parallel' for T > 1, 'naive' (one recurrent step) for T = 1. */
  form?: 'naive' | 'parallel';
  /** Return the final state (default true). */
  wantState?: boolean;
}

/**
 * Complex elementwise scan.
 * @param xRe @param xIm input [B,T,N] (real and imaginary parts)
 * @param logMag log |λ_t| [B,T,N] (≤ 0: |λ| ≤ 1)
 * @param phase arg λ_t [B,T,N] (radians, any range)
 * @returns re, im [B,T,N] (all h_t) and finalState [B,2,N] (undefined when wantState is false)
 */
export function complexScan(xRe: tf.Tensor3D, xIm: tf.Tensor3D, logMag: tf.Tensor3D, phase: tf.Tensor3D, opts: ComplexScanOptions = {}): ComplexScanResult {
  const op = 'complexScan';
  const [b, t, n] = dims(op, 'xRe', xRe, 3, '[B,T,N]') as [number, number, number];
  for (const [name, x] of [['xIm', xIm], ['logMag', logMag], ['phase', phase]] as const) expectShape(op, name, x, [b, t, n], '[B,T,N]');
  if (opts.initialState !== undefined) expectShape(op, 'initialState', opts.initialState, [b, 2, n], '[B,2,N]');
  const form = opts.form ?? (t > 1 ? 'parallel' : 'naive');
  if (form !== 'naive' && form !== 'parallel') throw new Error(`${op}: unknown form '${String(form)}' (naive | parallel)`);
  const resolved = { initialState: opts.initialState, wantState: opts.wantState ?? true };
  return form === 'naive' ? complexScanNaive(xRe, xIm, logMag, phase, resolved) : complexScanParallel(xRe, xIm, logMag, phase, resolved);
}
