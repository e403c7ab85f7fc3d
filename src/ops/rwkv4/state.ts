// The RWKV-4 WKV state (a, b, p) as one tensor [B, 3, D]: numerator and denominator mantissas a, b
// and their common log scale p, i.e. Σ_{s<t} e^{−(t−1−s)w + k_s} (v_s, 1) = e^{p} (a, b) (fla's
// `state` layout [B, 3, D] without its singleton axis). p is always the largest exponent seen, so
// the representation is canonical: every form returns the same (a, b, p), not just the same ratio.
import * as tf from '@tensorflow/tfjs';

/** Log scale of the empty state: e^{p} = 0 (the official kernel's −1e38). */
export const EMPTY_LOG_SCALE = -1e38;

/** Options after defaults were filled in (what every form receives). */
export interface Rwkv4Resolved {
  initialState: tf.Tensor3D | undefined;
  chunkSize: number;
  wantState: boolean;
}

/** (a, b, p) each [B, D] from a [B, 3, D] state, or the empty state (0, 0, −1e38). */
export function initialRwkv4State(b: number, d: number, s: tf.Tensor3D | undefined): { a: tf.Tensor2D; b: tf.Tensor2D; p: tf.Tensor2D } {
  if (s === undefined) return { a: tf.zeros([b, d]), b: tf.zeros([b, d]), p: tf.fill([b, d], EMPTY_LOG_SCALE) };
  const [a, den, p] = tf.unstack(s, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  return { a, b: den, p };
}
