// Gradient accumulation over micro-batches (`train.micro_batch_size`): one optimizer step on a batch
// too large for the device at once. WebGPU binds at most 2 GiB per buffer, so e.g. Mamba's
// selective scan at d_model 128, B = 256, T = 256 ([B, T, E, N] operands of 1 GiB and more) cannot
// run as one batch; split in micro-batches it gives the same step.
import * as tf from '@tensorflow/tfjs';
import { IGNORE_INDEX, type Batch } from '../tasks/types.js';
import { supervisedLoss } from './loss.js';
import { derived } from '../backend/host_inputs.js';
import type { SupervisedOptions, TrainableModel } from '../models/types.js';

/** Examples [from, to) of a batch (views where the arrays allow it). */
export function sliceBatch(b: Batch, from: number, to: number): Batch {
  const n = to - from;
  const T = b.seqLen;
  if (b.targets !== undefined) {
    // A regression batch: real-valued tokens [B, T, F] and one target per example.
    const F = b.featureDim!;
    return { ...b, ids: b.ids.subarray(0, 0), labels: b.labels.subarray(0, 0), batch: n, features: b.features!.subarray(from * T * F, to * T * F), targets: b.targets.subarray(from, to) };
  }
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
 * Peak activation memory is that of one micro-batch; the sums are one extra parameter-sized tensor
 * per variable. With micro undefined or ≥ B this is the plain single `tf.variableGrads` call.
 */
export function lossAndGrads(
  model: Pick<TrainableModel, 'supervised'>,
  b: Batch,
  vars: tf.Variable[],
  opts: SupervisedOptions & { labelSmoothing?: number; micro?: number },
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const run = (mb: Batch, m = 0) => {
    let n = 0;
    // Micro-batch m draws its own dropout masks: the step's seed moved by m (a step input; host_inputs.ts).
    const seed = opts.dropoutSeed;
    const dropoutSeed = seed === undefined || m === 0 ? seed : derived((x) => Int32Array.of((x[0]! + Math.imul(m, 0x632be5ab)) | 0), seed);
    const r = tf.variableGrads(() => {
      const s = model.supervised(mb, { training: opts.training, recompute: opts.recompute, dropoutSeed });
      n = s.targets.length;
      return supervisedLoss(s, opts.labelSmoothing);
    }, vars);
    return { ...r, n };
  };
  const micro = opts.micro;
  if (micro === undefined || micro >= b.batch) return run(b);
  // A micro-batch without labelled positions adds n_m = 0 to the sums, and its loss (a constant 0)
  // has no gradient path, which tf.variableGrads refuses: skip it. If no micro-batch has a label,
  // the whole batch goes as one (what it does without micro-batches).
  const parts: Batch[] = [];
  for (let from = 0; from < b.batch; from += micro) {
    const mb = sliceBatch(b, from, Math.min(b.batch, from + micro));
    if (mb.targets !== undefined || mb.labels.some((y) => y !== IGNORE_INDEX)) parts.push(mb);
  }
  if (parts.length === 0) return run(b);
  let value: tf.Scalar = tf.scalar(0);
  let grads: tf.NamedTensorMap = {};
  let total = 0;
  for (const [m, mb] of parts.entries()) {
    const r = run(mb, m);
    total += r.n;
    // Accumulate n_m·(ℓ_m, ∇ℓ_m) (each gradient has its variable's shape); scaled by 1/N at the end.
    const prev = { value, grads };
    value = tf.tidy(() => tf.add(prev.value, tf.mul(r.value, r.n)));
    grads = tf.tidy(() => {
      const sum: tf.NamedTensorMap = { ...prev.grads };
      for (const [k, g] of Object.entries(r.grads)) sum[k] = prev.grads[k] === undefined ? tf.mul(g, r.n) : tf.add(prev.grads[k]!, tf.mul(g, r.n));
      return sum;
    });
    // Keep the sums carried over unchanged (a variable absent from this micro-batch's gradients).
    tf.dispose([prev.value, r.value, ...Object.entries(prev.grads).filter(([k]) => grads[k] !== prev.grads[k]).map(([, g]) => g), ...Object.values(r.grads)]);
  }
  const scale = total > 0 ? 1 / total : 0;
  const out = tf.tidy(() => ({ value: tf.mul(value, scale) as tf.Scalar, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)])) }));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}
