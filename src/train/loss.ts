// Cross-entropy over labelled positions only (PyTorch CrossEntropyLoss(ignore_index=−100), as
// Zoology's MQAR training uses). Rows are selected on the host first, so MQAR's few query
// positions never pay for a [B·T, V] softmax, and no [N, V] one-hot is ever built.
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../backend/kernels/index.js';
import { CE_BWD, CE_FWD } from './cross_entropy_webgpu.js';
import type { LabelIndex } from '../data/labels.js';
import type { HeadRows, Supervised } from '../models/types.js';
import { MetalaError } from '../util/errors.js';
import { headLogitsMaxBytes } from '../backend/logits_limit.js';
import { derived } from '../backend/host_inputs.js';
import { headCrossEntropy } from './head_cross_entropy.js';

/** True when the current backend has the fused cross-entropy kernels (webgpu). */
function fusedCrossEntropyAvailable(): boolean {
  return kernelOnBackend(CE_FWD);
}

/**
 * mean_n (logsumexp(z_n) − z_n[y_n]) in two kernels (cross_entropy_webgpu.ts): the forward keeps
 * (loss_n, lse_n), the backward writes ∂z = (softmax(z) − onehot(y)) · dy/N in one pass.
 */
function fusedMeanCrossEntropy(z: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  const N = z.shape[0];
  const y = tf.tensor1d(targets, 'int32');
  const engine = tf.engine();
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const zz = args[0] as tf.Tensor2D;
    const s = engine.runKernel(CE_FWD, { z: zz, y }) as tf.Tensor2D; // [N, 2] = (loss, lse)
    (args[1] as tf.GradSaveFunc)([zz, s, y]);
    return {
      value: tf.mean(tf.reshape(tf.slice(s, [0, 0], [N, 1]), [N])) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sz, ss, sy] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const g = tf.broadcastTo(tf.reshape(tf.div(dy, N), [1]), [N]);
        return engine.runKernel(CE_BWD, { z: sz, y: sy, s: ss, g }) as tf.Tensor;
      },
    };
  });
  return run(z) as tf.Scalar;
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
  if (labelSmoothing === 0 && fusedCrossEntropyAvailable()) return fusedMeanCrossEntropy(logits, targets);
  const pickIdx = derived((t) => Int32Array.from(t, (y, n) => n * C + y), targets);
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
  if (fusedCrossEntropyAvailable()) return fusedMeanCrossEntropy(sel as tf.Tensor2D, idx.targets);
  const pickIdx = derived((t) => Int32Array.from(t, (y, m) => m * V + y), idx.targets);
  const picked = tf.gather(tf.reshape(sel, [-1]), tf.tensor1d(pickIdx, 'int32'));
  return tf.mean(tf.sub(tf.logSumExp(sel, -1), picked)) as tf.Scalar;
}

/** Mean squared error of predictions [N] against real targets (regression tasks; the excess risk when the targets are noise-free). */
export function meanSquaredError(predictions: tf.Tensor1D, targets: Float32Array): tf.Scalar {
  if (targets.length === 0) return tf.scalar(0);
  return tf.mean(tf.squaredDifference(predictions, tf.tensor1d(targets))) as tf.Scalar;
}

/** The training loss of a model's supervised units: cross-entropy of logits, or MSE of a regression. */
export function supervisedLoss(s: Supervised, labelSmoothing = 0): tf.Scalar {
  if (s.kind === 'regression') return meanSquaredError(s.predictions, s.targets);
  if (s.kind === 'head') return tf.reshape(headLoss(s, labelSmoothing), []) as tf.Scalar;
  return crossEntropy(s.logits, s.targets, labelSmoothing);
}

/** Each replica's mean CE [R] through a head too large to form at once (head_cross_entropy.ts). */
export function headLoss(s: HeadRows, labelSmoothing: number): tf.Tensor1D {
  if (labelSmoothing > 0) {
    throw new MetalaError(
      `train.label_smoothing: this head's logits exceed METALA_HEAD_LOGITS_MAX_BYTES (${headLogitsMaxBytes()}), and the chunked head has no label smoothing. Set train.micro_batch_size, or raise METALA_HEAD_LOGITS_MAX_BYTES`,
      2,
    );
  }
  return headCrossEntropy(s);
}
