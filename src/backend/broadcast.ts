// Broadcasting a tensor to a larger shape, in the form that is fast on the current backend.
// tf.broadcastTo runs as the Tile kernel: one launch on webgpu, but on wasm its Tile kernel is ~70×
// slower than a broadcasting multiply by ones (9.7 vs 0.12 ms for [64,2,1,32] → [64,2,32,32], the
// Sum gradient of the chunkwise gla form; it was 45% of the smoke MQAR step's kernel time).
import * as tf from '@tensorflow/tfjs';

/** x broadcast to `shape` (same values, bit for bit: the multiply is by exactly 1). */
export function broadcastToFast(x: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.getBackend() === 'webgpu') return tf.broadcastTo(x, shape);
  return tf.mul(x, tf.fill(shape, 1, x.dtype));
}
