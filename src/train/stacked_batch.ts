// Batches and loss of a stack of replicas (train.stack): R batches of equal shape become one of R·B
// examples, replica-major, and the step's loss is Σ_r w_r · ℓ_r, each replica's mean loss ℓ_r over
// its own units. Its gradient with respect to replica r's parameters is w_r ∂ℓ_r (the replicas
// share no parameter), so with w_r = 1 each replica gets the gradient of its run alone, and a
// finished or diverged replica (w_r = 0) gets none.
import * as tf from '@tensorflow/tfjs';
import { derived, guarded } from '../backend/host_inputs.js';
import { IGNORE_INDEX, type Batch } from '../tasks/types.js';
import type { Supervised, SupervisedOptions, TrainableModel } from '../models/types.js';
import { crossEntropy, headLoss } from './loss.js';
import { sliceBatch } from './micro_batch.js';

/** The arrays one after another (recomputed when a training step is replayed: host_inputs.ts). */
function cat<A extends Int32Array | Float32Array | Uint8Array>(xs: A[]): A {
  return derived((...ys) => concatArrays(ys as A[]), ...xs);
}

function concatArrays<A extends Int32Array | Float32Array | Uint8Array>(xs: A[]): A {
  const out = new (xs[0]!.constructor as new (n: number) => A)(xs.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** R batches of one shape → one batch of R·B examples, replica-major. */
export function stackBatches(bs: readonly Batch[]): Batch {
  const b0 = bs[0]!;
  for (const b of bs) {
    if (b.batch !== b0.batch || b.seqLen !== b0.seqLen || b.ids.length !== b0.ids.length || b.labels.length !== b0.labels.length) {
      throw new Error(`internal: stacked batches differ in shape ([${b.batch}, ${b.seqLen}] vs [${b0.batch}, ${b0.seqLen}])`);
    }
  }
  const out: Batch = { ids: cat(bs.map((b) => b.ids)), labels: cat(bs.map((b) => b.labels)), batch: b0.batch * bs.length, seqLen: b0.seqLen };
  if (b0.lengths !== undefined) out.lengths = cat(bs.map((b) => b.lengths!));
  if (b0.ids2 !== undefined) out.ids2 = cat(bs.map((b) => b.ids2!));
  if (b0.lengths2 !== undefined) out.lengths2 = cat(bs.map((b) => b.lengths2!));
  if (b0.pixels !== undefined) {
    out.pixels = cat(bs.map((b) => b.pixels!));
    out.imageShape = b0.imageShape;
  }
  if (b0.features !== undefined) {
    out.features = cat(bs.map((b) => b.features!));
    out.featureDim = b0.featureDim;
    out.targets = cat(bs.map((b) => b.targets!));
  }
  return out;
}

/** Supervised units of a batch: regression examples, or labelled positions/examples. */
export function unitsOf(b: Batch): number {
  if (b.targets !== undefined) return b.targets.length;
  let n = 0;
  for (const y of b.labels) if (y !== IGNORE_INDEX) n++;
  return n;
}

/** Each replica's units of a stacked model's output, in replica order. */
function replicaSlices(s: Supervised, R: number): { from: number; n: number }[] {
  if (s.kind === 'regression') throw new Error('internal: stacked regression is not supported');
  const units = s.replicaUnits;
  if (units === undefined || units.length !== R) throw new Error(`internal: a stacked model returned ${units?.length ?? 'no'} replica unit counts for ${R} replicas`);
  let from = 0;
  return units.map((n) => {
    const r = { from, n };
    from += n;
    return r;
  });
}

/** Each replica's mean cross-entropy [R] (a replica without units: 0). */
export function replicaLosses(s: Supervised, R: number, labelSmoothing = 0): tf.Tensor1D {
  if (s.kind === 'regression') throw new Error('internal: stacked regression is not supported');
  if (s.kind === 'head') return headLoss(s, labelSmoothing);
  const per = replicaSlices(s, R).map(({ from, n }) =>
    n === 0 ? tf.scalar(0) : crossEntropy(tf.slice(s.logits, [from, 0], [n, -1]) as tf.Tensor2D, s.targets.subarray(from, from + n), labelSmoothing),
  );
  return tf.stack(per) as tf.Tensor1D;
}

/**
 * Each replica's loss [R] and the gradients of Σ_r w_r ℓ_r for `vars`, in micro-batches of at most
 * `micro` examples per replica (as lossAndGrads: micro-batch m adds w_r · ℓ_{r,m} · n_{r,m} / N_r).
 */
export function stackedLossAndGrads(
  model: Pick<TrainableModel, 'supervised'>,
  bs: readonly Batch[],
  weights: readonly number[],
  vars: tf.Variable[],
  opts: SupervisedOptions & { labelSmoothing?: number; micro?: number },
): { losses: tf.Tensor1D; grads: tf.NamedTensorMap } {
  const R = bs.length;
  const B = bs[0]!.batch;
  const micro = opts.micro === undefined || opts.micro >= B ? B : opts.micro;
  const totals = bs.map(unitsOf);
  let losses = tf.zeros([R]) as tf.Tensor1D;
  let grads: tf.NamedTensorMap = {};
  for (let from = 0; from < B; from += micro) {
    const parts = bs.map((b) => (micro === B ? b : sliceBatch(b, from, Math.min(B, from + micro))));
    // Replica r's share of its batch in this micro-batch (1 without micro-batches).
    // Recomputed in a replayed step; its values decide which micro-batches run, so they must repeat.
    const share = Array.from(
      guarded((...labels) => Float32Array.from(parts, (p, r) => (micro === B ? 1 : totals[r]! === 0 ? 0 : unitsOf({ ...p, labels: labels[r] as Int32Array }) / totals[r]!)), ...parts.map((p) => p.labels)),
    );
    if (share.every((x, r) => x * weights[r]! === 0)) continue; // nothing to learn here (tf.variableGrads refuses a constant)
    let part: tf.Tensor1D | undefined;
    const r = tf.variableGrads(() => {
      const s = model.supervised(stackBatches(parts), { training: opts.training, recompute: opts.recompute });
      part = tf.keep(tf.mul(replicaLosses(s, R, opts.labelSmoothing), tf.tensor1d(share))) as tf.Tensor1D;
      return tf.sum(tf.mul(part, tf.tensor1d(Float32Array.from(weights)))) as tf.Scalar;
    }, vars);
    r.value.dispose();
    const prev = { losses, grads };
    losses = tf.add(prev.losses, part!) as tf.Tensor1D;
    if (Object.keys(prev.grads).length === 0) {
      grads = r.grads;
      tf.dispose([prev.losses, part!]);
      continue;
    }
    grads = tf.tidy(() => {
      const sum: tf.NamedTensorMap = { ...prev.grads };
      for (const [k, g] of Object.entries(r.grads)) sum[k] = prev.grads[k] === undefined ? tf.clone(g) : tf.add(prev.grads[k]!, g);
      return sum;
    });
    tf.dispose([prev.losses, part!, ...Object.entries(prev.grads).filter(([k]) => grads[k] !== prev.grads[k]).map(([, g]) => g), ...Object.values(r.grads)]);
  }
  return { losses, grads };
}
