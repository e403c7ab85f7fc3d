// Stacked replicas (train.stack): R runs whose tensors have the same shapes train as one model.
// Activations keep their layout with the replicas folded into the batch axis, replica-major
// ([R·B, ...]: rows r·B … (r+1)·B − 1 are replica r's batch); a stacked parameter has a leading
// replica axis [R, ...shape] (src/layers/params.ts). Projections become one batched matmul over
// replicas (basic.ts `dense`); these helpers let the other uses of a parameter take either kind.
import * as tf from '@tensorflow/tfjs';
import { broadcastToFast } from '../backend/broadcast.js';

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/**
 * a [R, M, K] · b [R, K, N] (b [R, N, K] with transposeB) → [R, M, N], one product per replica.
 * Porting note: tfjs's wasm backend hands a batched product with more than one batch to a plain
 * loop, ~10× slower than its XNNPACK path for one (measured [2, 4096, 64]·[2, 64, 64]: 32.7 vs
 * 3.6 ms for the same work as two 2-D products), so on wasm each replica's product runs alone.
 */
export function replicaMatMul(a: tf.Tensor3D, b: tf.Tensor3D, transposeB = false): tf.Tensor3D {
  const R = a.shape[0];
  if (tf.getBackend() !== 'wasm' || R === 1) return tf.matMul(a, b, false, transposeB);
  const [, M, K] = a.shape;
  const [, b1, b2] = b.shape;
  const ys = Array.from({ length: R }, (_, r) =>
    tf.matMul(tf.reshape(tf.slice(a, [r, 0, 0], [1, M, K]), [M, K]), tf.reshape(tf.slice(b, [r, 0, 0], [1, b1, b2]), [b1, b2]), false, transposeB),
  );
  return tf.stack(ys) as tf.Tensor3D;
}

/** Replicas of parameter p whose per-replica shape is `shape`: 1 for a plain parameter. */
export function replicasOf(p: tf.Tensor, shape: readonly number[]): number {
  const n = prod(shape);
  if (p.size % n !== 0) throw new Error(`internal: parameter of shape [${p.shape}] is not a stack of [${shape}]`);
  return p.size / n;
}

/**
 * A parameter p (plain [...s] or stacked [R, ...s]) viewed as `view` (same per-replica size) with a
 * leading axis that broadcasts against activations of `rows` leading rows: [1, ...view] when plain,
 * [rows, ...view] when stacked (replica r's values repeated over its rows/R rows). The gradient of
 * the repeat sums back over each replica's rows.
 */
export function perRow(p: tf.Tensor, rows: number, view: readonly number[]): tf.Tensor {
  const R = p.rank > view.length || p.size !== prod(view) ? replicasOf(p, view) : 1;
  if (R === 1 && p.rank <= view.length) return tf.reshape(p, [1, ...view]);
  if (rows % R !== 0) throw new Error(`internal: ${rows} rows do not split into ${R} replicas`);
  // Repeated as [R, rows/R, n] (rank 3: webgpu's Tile runs rank ≥ 5 on the CPU), then viewed.
  const n = prod(view);
  const b = broadcastToFast(tf.reshape(p, [R, 1, n]), [R, rows / R, n]);
  return tf.reshape(b, [rows, ...view]);
}

/**
 * x [R·B, T, D] → [B, T, R·D]: the replicas moved into the channel axis, so a per-channel kernel
 * (a depthwise conv, a fused scan) runs every replica at once with its stacked weights laid out
 * [..., R·D] (see `stackedChannels`).
 */
export function replicasToChannels(x: tf.Tensor3D, R: number): tf.Tensor3D {
  const [RB, T, D] = x.shape;
  const B = RB / R;
  return tf.reshape(tf.transpose(tf.reshape(x, [R, B, T, D]), [1, 2, 0, 3]), [B, T, R * D]) as tf.Tensor3D;
}

/** The inverse of `replicasToChannels`: [B, T, R·D] → [R·B, T, D]. */
export function channelsToReplicas(y: tf.Tensor3D, R: number): tf.Tensor3D {
  const [B, T, RD] = y.shape;
  const D = RD / R;
  return tf.reshape(tf.transpose(tf.reshape(y, [B, T, R, D]), [2, 0, 1, 3]), [R * B, T, D]) as tf.Tensor3D;
}

/** Stacked per-channel weights [R, c, D] → [c, R·D], the channel layout of `replicasToChannels`. */
export function stackedChannels(w: tf.Tensor3D): tf.Tensor2D {
  const [R, c, D] = w.shape;
  return tf.reshape(tf.transpose(w, [1, 0, 2]), [c, R * D]) as tf.Tensor2D;
}
