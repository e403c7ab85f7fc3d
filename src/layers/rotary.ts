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
