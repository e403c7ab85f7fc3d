// Complex diagonal recurrence, step-by-step reference (LRU, Orvieto et al. 2023, Eq. 3–4; the
// `lru` scan of the paper's App. A code, run as a Python loop):
//   h_t = λ_t ⊙ h_{t−1} + x_t,   λ_t = e^{logMag_t} (cos phase_t + i sin phase_t)
// with h, x as (re, im) pairs of real [B,T,N] tensors.
import * as tf from '@tensorflow/tfjs';
import { stackSafe, unstackSafe } from '../common/tensor.js';
import type { ComplexScanResolved, ComplexScanResult } from './types.js';

/**
 * One loop over t (the oracle for the parallel form).
 * @param xRe @param xIm inputs [B,T,N]
 * @param logMag log |λ_t| [B,T,N] (≤ 0 for a stable recurrence; not required)
 * @param phase arg λ_t [B,T,N]
 */
export function complexScanNaive(xRe: tf.Tensor3D, xIm: tf.Tensor3D, logMag: tf.Tensor3D, phase: tf.Tensor3D, opts: ComplexScanResolved): ComplexScanResult {
  return tf.tidy(() => {
    const [b, , n] = xRe.shape;
    const [xr, xi, lm, ph] = [xRe, xIm, logMag, phase].map((x) => unstackSafe<tf.Tensor2D>(x, 1));
    let hr: tf.Tensor2D;
    let hi: tf.Tensor2D;
    if (opts.initialState === undefined) [hr, hi] = [tf.zeros([b, n]), tf.zeros([b, n])];
    else [hr, hi] = tf.unstack(opts.initialState, 1) as [tf.Tensor2D, tf.Tensor2D];
    const res: tf.Tensor2D[] = [];
    const ims: tf.Tensor2D[] = [];
    xr!.forEach((xt, t) => {
      const mag = tf.exp(lm![t]!);
      const lr = tf.mul(mag, tf.cos(ph![t]!));
      const li = tf.mul(mag, tf.sin(ph![t]!));
      const nr: tf.Tensor2D = tf.add(tf.sub(tf.mul(lr, hr), tf.mul(li, hi)), xt);
      hi = tf.add(tf.add(tf.mul(li, hr), tf.mul(lr, hi)), xi![t]!);
      hr = nr;
      res.push(hr);
      ims.push(hi);
    });
    const re = stackSafe<tf.Tensor3D>(res, 1);
    const im = stackSafe<tf.Tensor3D>(ims, 1);
    return opts.wantState ? { re, im, finalState: tf.stack([hr, hi], 1) as tf.Tensor3D } : { re, im };
  });
}
