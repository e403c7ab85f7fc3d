// Σ_p x[r, p]² of each row of x [R, P]: the optimizer's gradient norms (one row per stacked replica,
// or the whole flat gradient as [1, P]). On webgpu the two-stage kernel of sum_squares_webgpu.ts
// (kernel family 'gradnorm'); elsewhere, or with that family left out, tf.sum(tf.square(x), 1).
// Not differentiable: the optimizer calls it outside any gradient.
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../backend/kernels/index.js';
import { ROW_SUM_SQUARES } from './sum_squares_webgpu.js';

/** [R]: row sums of squares, each row's result the same bits whatever R is on webgpu. */
export function rowSumSquares(x: tf.Tensor2D): tf.Tensor1D {
  if (kernelOnBackend(ROW_SUM_SQUARES) && x.dtype === 'float32' && x.shape[1] > 0) {
    return tf.engine().runKernel(ROW_SUM_SQUARES, { x }) as tf.Tensor1D;
  }
  return tf.tidy(() => tf.sum(tf.square(x), 1));
}
