// Causal depthwise short convolution (MetaLA's Conv1d before the projections; paper Eq. A31,
// official code: nn.Conv1d(d, d, c, groups=d, bias=False) via causal_conv1d_fn).
// Computed as pad + slice + multiply-add: conv1d weight gradients are missing on wasm and this
// form is differentiable on every backend (tfjs-in-node.md §0).
import * as tf from '@tensorflow/tfjs';

/**
 * y_t[i] = Σ_{j=0..c−1} w[j, i] · x_{t−(c−1)+j}[i]  (the last tap multiplies the current token).
 * @param x     input [B, T, D]
 * @param w     taps [c, D] (file layout `[D, 1, c]`)
 * @param cache the previous c−1 inputs [B, c−1, D] (decode / continued prefill); zeros if absent
 * @returns y [B, T, D] and the new cache (last c−1 inputs, for the next call)
 */
export function causalConv1d(x: tf.Tensor3D, w: tf.Tensor2D, cache?: tf.Tensor3D): { y: tf.Tensor3D; cache: tf.Tensor3D } {
  const [B, T, D] = x.shape;
  const c = w.shape[0];
  if (c === 1) return { y: tf.mul(x, w) as tf.Tensor3D, cache: tf.zeros([B, 0, D]) };
  const past = cache ?? (tf.zeros([B, c - 1, D]) as tf.Tensor3D);
  const xp = tf.concat([past, x], 1); // [B, c−1+T, D]
  let y: tf.Tensor | undefined;
  for (let j = 0; j < c; j++) {
    const tap = tf.mul(tf.slice(xp, [0, j, 0], [B, T, D]), tf.slice(w, [j, 0], [1, D]));
    y = y === undefined ? tap : tf.add(y, tap);
  }
  const newCache = tf.slice(xp, [0, T, 0], [B, c - 1, D]) as tf.Tensor3D;
  return { y: y as tf.Tensor3D, cache: newCache };
}
