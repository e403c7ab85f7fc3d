// Input, state and option types of the diagonal SSM recurrences (this folder's index.ts).
// A "complex" SSM carries (re, im) pairs: DSS, S4D-Lin, H3 and S5 use complex diagonal A; Mamba
// and S4D-Real are real.
import type * as tf from '@tensorflow/tfjs';
import type { Form } from '../common/types.js';

/**
 * SISO diagonal SSM per channel: h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t, y_t = Re(C_t · h_t) + skip ⊙ x_t.
 * Every [·,·,·,N] tensor may have size 1 on its B, T or D axis (broadcast): [1,1,D,N] is a
 * time-invariant SSM (S4D, DSS, H3), [B,T,1,N] a per-token B_t / C_t shared by channels (Mamba).
 */
export interface DiagSsmInputs {
  /** Input [B, T, D]. */
  x: tf.Tensor3D;
  /** log|Ā_t| [B|1, T|1, D|1, N]; ≤ 0 for a stable system (Mamba: Δ_t·A). */
  logA: tf.Tensor4D;
  /** arg Ā_t, same shape rule; absent: Ā_t real and positive. */
  angleA?: tf.Tensor4D;
  /** B̄_t (real part) and its imaginary part. */
  b: tf.Tensor4D;
  bIm?: tf.Tensor4D;
  /** C_t (real part) and its imaginary part. */
  c: tf.Tensor4D;
  cIm?: tf.Tensor4D;
  /** Feed-through D [D]. */
  skip?: tf.Tensor1D;
}

/** State h [B, D, N] (diagSsm) or [B, M] (diagScan); `im` present for a complex SSM. */
export interface SsmState<S extends tf.Tensor = tf.Tensor3D> {
  re: S;
  im?: S;
}

export interface SsmOptions<S extends tf.Tensor = tf.Tensor3D> {
  initialState?: SsmState<S>;
  /**
   * 'naive': this folder's step loop (the reference). 'parallel' | 'chunk': the fast form, handed
   * to `gla` (diagSsm) or `hgrn` (diagScan) with that form. Default: the step loop for T ≤ 64
   * on cpu/wasm and T = 1 on webgpu (as the other ops), else the fast form with the underlying
   * op's default form.
   */
  form?: Form;
  chunkSize?: number;
  /** Return the final state (default true). */
  wantState?: boolean;
}

export interface DiagSsmResult {
  /** [B, T, D] */
  y: tf.Tensor3D;
  finalState?: SsmState;
}

/**
 * Elementwise diagonal recurrence over M states with a given input: h_t = Ā_t ⊙ h_{t−1} + u_t
 * (S5: u_t = B̄ x_t, one state vector shared by all channels). Returns every h_t.
 */
export interface DiagScanInputs {
  /** u_t [B, T, M] (real part) and its imaginary part. */
  u: tf.Tensor3D;
  uIm?: tf.Tensor3D;
  /** log|Ā_t| [B|1, T|1, M]. */
  logA: tf.Tensor3D;
  /** arg Ā_t [B|1, T|1, M]. */
  angleA?: tf.Tensor3D;
}

export interface DiagScanResult {
  /** h_t for every t, [B, T, M] each. */
  h: SsmState;
  finalState?: SsmState<tf.Tensor2D>;
}
