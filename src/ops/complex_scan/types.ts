// Types of the complex diagonal scan h_t = λ_t ⊙ h_{t−1} + x_t with λ_t = exp(logMag_t + i·phase_t),
// carried as two real channels (re, im). State layout [B, 2, N]: (re, im) on axis 1.
import type * as tf from '@tensorflow/tfjs';

/** Options after defaults were filled in (what every form receives). */
export interface ComplexScanResolved {
  initialState: tf.Tensor3D | undefined;
  wantState: boolean;
}

/** All h_t as real and imaginary parts [B,T,N]; the last h as [B,2,N] unless wantState is false. */
export interface ComplexScanResult {
  re: tf.Tensor3D;
  im: tf.Tensor3D;
  finalState?: tf.Tensor3D;
}
