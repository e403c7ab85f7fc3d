// Log-depth parallel scan of the diagonal linear recurrence h_t = exp(a_t) ⊙ h_{t-1} + x_t
// (Hillis–Steele on the associative pair (log decay, value)). Used for HGRN over time and for
// passing gla / simpleGla chunk states without a sequential loop over chunks.
import * as tf from '@tensorflow/tfjs';

/** y[t] = x[t − s] along `axis` for t ≥ s, 0 for t < s. */
function shiftAlong<R extends tf.Rank>(x: tf.Tensor<R>, s: number, axis: number): tf.Tensor<R> {
  const n = x.shape[axis] ?? 0;
  const size = x.shape.map((d, i) => (i === axis ? n - s : d));
  const pads = x.shape.map((_, i): [number, number] => (i === axis ? [s, 0] : [0, 0]));
  return tf.pad(tf.slice(x, x.shape.map(() => 0), size), pads);
}

/**
 * Inclusive scan along `axis`: returns h with h_t = Σ_{j≤t} exp(a_{j+1} + … + a_t) ⊙ x_j and the
 * cumulative log decay A_t = Σ_{j≤t} a_j. `a` (≤ 0) broadcasts against x (e.g. a trailing 1 axis).
 * After the step with shift s, h_t sums x_j over j ∈ (t − 2s, t] and A_t sums a_j over the same
 * window; combining is h_t += exp(A_t) h_{t−s}, A_t += A_{t−s}. Every exponent is a sum of log
 * decays, so ≤ 0: stable for any decay. ⌈log2 n⌉ steps of a few elementwise ops.
 */
export function linearScan<R extends tf.Rank>(x: tf.Tensor<R>, a: tf.Tensor<R>, axis: number): { h: tf.Tensor<R>; cumA: tf.Tensor<R> } {
  const n = x.shape[axis] ?? 0;
  let h = x;
  let cumA = a;
  for (let s = 1; s < n; s *= 2) {
    h = tf.add(h, tf.mul(tf.exp(cumA), shiftAlong(h, s, axis)));
    cumA = tf.add(cumA, shiftAlong(cumA, s, axis));
  }
  return { h, cumA };
}
