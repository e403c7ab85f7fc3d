// Complex diagonal recurrence as a log-depth parallel scan (Hillis–Steele, as common/scan.ts does
// for real decays): the transition of a window is exp(Σ logMag) · rot(Σ phase), so windows combine
// by adding log magnitudes and phases. Phases are wrapped to [0, 2π) after every step so cos/sin
// never see large arguments (float32 would lose ~ulp(Tθ) of accuracy otherwise).
import * as tf from '@tensorflow/tfjs';
import type { ComplexScanResolved, ComplexScanResult } from './types.js';

const TWO_PI = 2 * Math.PI;

/** φ mod 2π; floor has a zero gradient, so dφ passes through unchanged. */
function wrap(phi: tf.Tensor3D): tf.Tensor3D {
  return tf.sub(phi, tf.mul(TWO_PI, tf.floor(tf.div(phi, TWO_PI))));
}

/** y[:, t] = x[:, t − s] for t ≥ s, 0 before (time axis 1). */
function shift(x: tf.Tensor3D, s: number): tf.Tensor3D {
  const [b, t, n] = x.shape;
  return tf.pad(tf.slice(x, [0, 0, 0], [b, t - s, n]), [[0, 0], [s, 0], [0, 0]]);
}

/** (r + i·m) · e^{a} (cos φ + i sin φ), elementwise. */
function rotate(r: tf.Tensor3D, m: tf.Tensor3D, a: tf.Tensor3D, phi: tf.Tensor3D): [tf.Tensor3D, tf.Tensor3D] {
  const mag = tf.exp(a);
  const c = tf.mul(mag, tf.cos(phi));
  const s = tf.mul(mag, tf.sin(phi));
  return [tf.sub(tf.mul(c, r), tf.mul(s, m)), tf.add(tf.mul(s, r), tf.mul(c, m))];
}

/**
 * ⌈log2 T⌉ steps; after the step with shift s, h_t sums the inputs x_j, j ∈ (t − 2s, t], each
 * carried by its window's transition (A_t, Φ_t) = Σ over the same window of (logMag, phase).
 * @param xRe @param xIm inputs [B,T,N]; @param logMag log |λ_t| [B,T,N]; @param phase arg λ_t [B,T,N]
 */
export function complexScanParallel(xRe: tf.Tensor3D, xIm: tf.Tensor3D, logMag: tf.Tensor3D, phase: tf.Tensor3D, opts: ComplexScanResolved): ComplexScanResult {
  return tf.tidy(() => {
    const [b, t, n] = xRe.shape;
    let [hr, hi] = [xRe, xIm];
    let a = logMag;
    let phi = wrap(phase);
    for (let s = 1; s < t; s *= 2) {
      const [cr, ci] = rotate(shift(hr, s), shift(hi, s), a, phi);
      hr = tf.add(hr, cr);
      hi = tf.add(hi, ci);
      a = tf.add(a, shift(a, s));
      phi = wrap(tf.add(phi, shift(phi, s)));
    }
    // A_t, Φ_t now span (0, t]: they carry h_0 to every t.
    if (opts.initialState !== undefined) {
      const [r0, i0] = tf.unstack(opts.initialState, 1).map((x) => tf.reshape(x, [b, 1, n])) as [tf.Tensor3D, tf.Tensor3D];
      const [cr, ci] = rotate(tf.broadcastTo(r0, [b, t, n]), tf.broadcastTo(i0, [b, t, n]), a, phi);
      [hr, hi] = [tf.add(hr, cr), tf.add(hi, ci)];
    }
    if (!opts.wantState) return { re: hr, im: hi };
    const last = (x: tf.Tensor3D): tf.Tensor2D => tf.reshape(tf.slice(x, [0, t - 1, 0], [b, 1, n]), [b, n]);
    return { re: hr, im: hi, finalState: tf.stack([last(hr), last(hi)], 1) as tf.Tensor3D };
  });
}
