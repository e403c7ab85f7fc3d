// Position-wise building blocks shared by mixers and backbones. Dense layers reshape to 2-D
// before matMul: TF.js 4.22's broadcast matMul gradient is broken (tfjs-in-node.md §2.5).
import * as tf from '@tensorflow/tfjs';

/** x [..., in] · w [in, out] (+ b [out]) → [..., out]. */
export function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const outDim = w.shape[1]!;
  const flat = tf.reshape(x, [-1, inDim]);
  const y = b === undefined ? tf.matMul(flat, w) : tf.add(tf.matMul(flat, w), b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

/** SiLU(x) = x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** log σ(x) = −softplus(−x); tf.logSigmoid's gradient loses its input under tidy (tfjs-in-node.md §2.5). */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** GELU, tanh approximation. */
export function gelu(x: tf.Tensor): tf.Tensor {
  const c = Math.sqrt(2 / Math.PI);
  const inner = tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/**
 * Weightless RMSNorm over the last axis: x / sqrt(mean(x²) + eps).
 * Official code: metala/norm.py SimpleRMSNorm (eps 1e-6, no learnable weight).
 */
export function rmsNorm(x: tf.Tensor, eps = 1e-6): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(x, tf.rsqrt(tf.add(ms, eps)));
}

/** LayerNorm over the last axis without affine parameters (biased variance, like PyTorch). */
export function layerNorm(x: tf.Tensor, eps = 1e-5): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.mul(centered, tf.rsqrt(tf.add(variance, eps)));
}
