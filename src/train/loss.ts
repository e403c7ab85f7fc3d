// Cross-entropy over labelled positions only (PyTorch CrossEntropyLoss(ignore_index=−100), as
// Zoology's MQAR training uses). Rows are selected on the host first, so MQAR's few query
// positions never pay for a [B·T, V] softmax, and no [N, V] one-hot is ever built.
import * as tf from '@tensorflow/tfjs';
import { IGNORE_INDEX } from '../tasks/types.js';

export interface LabelIndex {
  /** Flat positions b·T + t with a label. */
  rows: Int32Array;
  targets: Int32Array;
}

export function labelIndex(labels: Int32Array): LabelIndex {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== IGNORE_INDEX) n++;
  const rows = new Int32Array(n);
  const targets = new Int32Array(n);
  let j = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y === IGNORE_INDEX) continue;
    rows[j] = i;
    targets[j] = y;
    j++;
  }
  return { rows, targets };
}

/**
 * Mean cross-entropy of logits [N, C] against targets (N): logsumexp(z) − z[y], with z[y] picked
 * from the flattened logits (its gradient is a scatter; no [N, C] one-hot is built).
 * With label smoothing ε (PyTorch CrossEntropyLoss(label_smoothing=ε), as timm/DeiT train):
 * logsumexp(z) − (1 − ε)·z[y] − (ε/C)·Σ_c z[c].
 */
export function crossEntropy(logits: tf.Tensor2D, targets: Int32Array, labelSmoothing = 0): tf.Scalar {
  const [N, C] = logits.shape;
  if (N === 0) return tf.scalar(0);
  const pickIdx = new Int32Array(N);
  for (let n = 0; n < N; n++) pickIdx[n] = n * C + targets[n]!;
  const picked = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(pickIdx, 'int32'));
  if (labelSmoothing > 0) {
    const target = tf.add(tf.mul(picked, 1 - labelSmoothing), tf.mul(tf.mean(logits, -1), labelSmoothing));
    return tf.mean(tf.sub(tf.logSumExp(logits, -1), target)) as tf.Scalar;
  }
  return tf.mean(tf.sub(tf.logSumExp(logits, -1), picked)) as tf.Scalar;
}

/**
 * Mean CE of logits [B, T, V] at the labelled positions.
 * logsumexp(z) − z[y], with z[y] picked from the flattened rows (its gradient is a scatter).
 */
export function maskedCrossEntropy(logits: tf.Tensor3D, idx: LabelIndex): tf.Scalar {
  const [B, T, V] = logits.shape;
  const M = idx.rows.length;
  if (M === 0) return tf.scalar(0);
  const flat = tf.reshape(logits, [B * T, V]);
  const sel = M === B * T ? flat : tf.gather(flat, tf.tensor1d(idx.rows, 'int32'));
  const pickIdx = new Int32Array(M);
  for (let m = 0; m < M; m++) pickIdx[m] = m * V + idx.targets[m]!;
  const picked = tf.gather(tf.reshape(sel, [-1]), tf.tensor1d(pickIdx, 'int32'));
  return tf.mean(tf.sub(tf.logSumExp(sel, -1), picked)) as tf.Scalar;
}
