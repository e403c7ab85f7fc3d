// Gradient accumulation over micro-batches (`train.micro_batch_size`): one optimizer step on a batch
// too large for the device at once. WebGPU binds at most 2 GiB per buffer, so e.g. Mamba's
// selective scan at d_model 128, B = 256, T = 256 ([B, T, E, N] operands of 1 GiB and more) cannot
// run as one batch; split in micro-batches it gives the same step.
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../tasks/types.js';
import { crossEntropy } from './loss.js';
import type { SupervisedOptions, TrainableModel } from '../models/types.js';

/** Examples [from, to) of a batch (views where the arrays allow it). */
export function sliceBatch(b: Batch, from: number, to: number): Batch {
  const n = to - from;
  const T = b.seqLen;
  // Labels are per position [B·T] (LM, MQAR) or per example [B] (classification).
  const perPosition = b.labels.length === b.batch * T;
  if (!perPosition && b.labels.length !== b.batch) throw new Error(`internal: batch labels have length ${b.labels.length}, neither B·T nor B`);
  const rows = <A extends Int32Array | Float32Array>(a: A, per: number): A => a.subarray(from * per, to * per) as A;
  const out: Batch = { ids: rows(b.ids, T), labels: rows(b.labels, perPosition ? T : 1), batch: n, seqLen: T };
  if (b.lengths !== undefined) out.lengths = rows(b.lengths, 1);
  if (b.ids2 !== undefined) out.ids2 = rows(b.ids2, b.ids2.length / b.batch);
  if (b.lengths2 !== undefined) out.lengths2 = rows(b.lengths2, 1);
  if (b.pixels !== undefined) {
    out.pixels = rows(b.pixels, b.pixels.length / b.batch);
    out.imageShape = b.imageShape;
  }
  return out;
}

/**
 * Mean training loss and its gradients for `vars` over the labelled positions of `b`, computed in
 * micro-batches of at most `micro` examples. Micro-batch m with n_m labelled positions has mean loss
 * ℓ_m; the batch loss is Σ n_m ℓ_m / Σ n_m, so gradients are accumulated with weights n_m / N and
 * equal the full batch's up to float rounding (dropout masks differ, being drawn per micro-batch).
 * With micro undefined or ≥ B this is the plain single `tf.variableGrads` call.
 */
export function lossAndGrads(
  model: Pick<TrainableModel, 'supervised'>,
  b: Batch,
  vars: tf.Variable[],
  opts: SupervisedOptions & { labelSmoothing?: number; micro?: number },
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const run = (mb: Batch) => {
    let n = 0;
    const r = tf.variableGrads(() => {
      const s = model.supervised(mb, { training: opts.training, recompute: opts.recompute });
      n = s.targets.length;
      return crossEntropy(s.logits, s.targets, opts.labelSmoothing);
    }, vars);
    return { ...r, n };
  };
  const micro = opts.micro;
  if (micro === undefined || micro >= b.batch) return run(b);
  let value: tf.Scalar = tf.scalar(0);
  let grads: tf.NamedTensorMap = {};
  let total = 0;
  for (let from = 0; from < b.batch; from += micro) {
    const r = run(sliceBatch(b, from, Math.min(b.batch, from + micro)));
    total += r.n;
    // Accumulate n_m·(ℓ_m, ∇ℓ_m); scaled by 1/N once all micro-batches are in.
    const prev = { value, grads };
    value = tf.tidy(() => tf.add(prev.value, tf.mul(r.value, r.n)));
    grads = tf.tidy(() => Object.fromEntries(Object.entries(r.grads).map(([k, g]) => [k, prev.grads[k] === undefined ? tf.mul(g, r.n) : tf.add(prev.grads[k]!, tf.mul(g, r.n))])));
    tf.dispose([prev.value, r.value, ...Object.values(prev.grads), ...Object.values(r.grads)]);
  }
  const scale = total > 0 ? 1 / total : 0;
  const out = tf.tidy(() => ({ value: tf.mul(value, scale) as tf.Scalar, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)])) }));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}
