// Rotary position embedding (Su et al. 2021, RoFormer), "rotate half" convention as in GPT-NeoX
// and Llama: pairs (x_i, x_{i+D/2}) are rotated by angle pos·base^{−2i/D}.
import * as tf from '@tensorflow/tfjs';

/**
 * @param x      [B, T, H, D] (D even)
 * @param offset position of x[:, 0] (tokens already in the KV cache)
 */
export function applyRotary(x: tf.Tensor4D, offset = 0, base = 10000): tf.Tensor4D {
  const [B, T, H, D] = x.shape;
  const half = D / 2;
  const ang = new Float32Array(T * half);
  for (let t = 0; t < T; t++) for (let i = 0; i < half; i++) ang[t * half + i] = (t + offset) * Math.pow(base, (-2 * i) / D);
  const a = tf.tensor(ang, [1, T, 1, half]);
  const cos = tf.cos(a);
  const sin = tf.sin(a);
  const x1 = tf.slice(x, [0, 0, 0, 0], [B, T, H, half]);
  const x2 = tf.slice(x, [0, 0, 0, half], [B, T, H, half]);
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], 3) as tf.Tensor4D;
}

/**
 * RoPE as SequenceLab's ZeroS code builds it (docs/seed-systems.md §1): the frequency table is
 * repeated element-wise (cos_j = cos φ_{⌊j/2⌋}) while the rotation pairs channel j with j ± D/2, so
 * it is not a rotation; reproduced as coded. φ_m = pos · base^(−2m/D).
 * @param x [B, T, H, D] (D even)
 * @param pos [T] float positions of x's tokens (a tensor, so decoding can continue from a state)
 */
export function applyRotaryRepeatedTable(x: tf.Tensor4D, pos: tf.Tensor1D, base = 10000): tf.Tensor4D {
  const [B, T, H, D] = x.shape;
  const half = D / 2;
  // inv[j] = base^(−2⌊j/2⌋/D) for j = 0..D−1
  const inv = new Float32Array(D);
  for (let j = 0; j < D; j++) inv[j] = Math.pow(base, (-2 * Math.floor(j / 2)) / D);
  const ang = tf.reshape(tf.mul(tf.reshape(pos, [T, 1]), tf.tensor1d(inv)), [1, T, 1, D]);
  const cos = tf.cos(ang);
  const sin = tf.sin(ang);
  const x1 = tf.slice(x, [0, 0, 0, 0], [B, T, H, half]);
  const x2 = tf.slice(x, [0, 0, 0, half], [B, T, H, half]);
  const rot = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rot, sin)) as tf.Tensor4D;
}
