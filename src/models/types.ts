// The contract between backbones and the one training loop: a model maps a task batch to the
// logits of its supervised units (query positions, next tokens, or whole sequences) and their
// targets. The loop computes CE, accuracy and perplexity from that and knows nothing else.
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { Batch } from '../tasks/types.js';
import type { Params } from '../layers/params.js';

/** What a classifier or language model predicts: class logits of its supervised units. */
export interface Classified {
  kind?: undefined;
  /** [N, C] logits of the N supervised units. */
  logits: tf.Tensor2D;
  /** N class ids. */
  targets: Int32Array;
  /**
   * Stacked replicas (train.stack): how many of the N units are each replica's, in replica order
   * (units are replica-major, like the batch).
   */
  replicaUnits?: number[];
}

/** What a regression model predicts: one real number per example. */
export interface Regressed {
  kind: 'regression';
  /** [N] predictions. */
  predictions: tf.Tensor1D;
  /** N real targets. */
  targets: Float32Array;
}

/**
 * Classified through a linear head whose logits are too large to form at once (a large vocabulary:
 * [N, V] beyond METALA_HEAD_LOGITS_MAX_BYTES, e.g. over WebGPU's 2 GiB binding limit), in training
 * and evaluation alike: the rows before the head and its weight. The loss forms the logits chunk by
 * chunk and recomputes them for the backward pass (headCrossEntropy), evaluation takes the argmax
 * from the same chunks (headPredictions; both in src/train/head_cross_entropy.ts).
 */
export interface HeadRows {
  kind: 'head';
  /** [R, n, d]: n rows per replica (R = 1 unless stacked), replica-major; row j of replica r is padding when j ≥ replicaUnits[r]. */
  rows: tf.Tensor3D;
  /** The head: [R, d, V], or [R, V, d] when `transposed` (a tied embedding table). */
  weight: tf.Tensor3D;
  transposed: boolean;
  /** Targets of the real rows, replica-major (as Classified's). */
  targets: Int32Array;
  /** Real rows per replica. */
  replicaUnits: number[];
}

export type Supervised = Classified | Regressed | HeadRows;

export interface SupervisedOptions {
  training?: boolean;
  recompute?: boolean;
  /**
   * This training step's dropout seed [1] (src/layers/dropout.ts): a step input, so a replayed step
   * draws new masks. Without it, dropout draws with tf.dropout (CPU random numbers, unseeded).
   */
  dropoutSeed?: Int32Array;
}

export interface TrainableModel {
  readonly params: Params;
  /** The resolved `model:` config (written into checkpoints as `metala_model`). */
  readonly config: { backbone?: string } & object;
  /**
   * Forward pass for training/eval; called inside tf.tidy / tf.variableGrads. `training` turns
   * on dropout and other train-only behaviour; `recompute` frees each block's intermediates after
   * its forward and recomputes them for the backward pass (train.recompute; src/layers/recompute.ts).
   */
  supervised(batch: Batch, opts?: SupervisedOptions): Supervised;
  /** Small learned quantities worth keeping in summary.json (a few numbers, not weights), if any. */
  learned?(): Record<string, number[]>;
  dispose(): void;
}

/** What a backbone needs to know about the task it is built for. */
export interface TaskShape {
  vocabSize: number;
  seqLen: number;
  /** Classes of a sequence-classification task (LRA, images); undefined for token-level tasks. */
  numClasses?: number;
  /** Width of real-valued tokens (regression prompts); undefined for token-id tasks. */
  featureDim?: number;
}

export interface BackboneDef<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  /** Strict schema of `model:` for this backbone (mixer options are validated separately). */
  schema: S;
  /** The backbone reads real-valued tokens (`Batch.features`) instead of token ids. */
  readsFeatures?: boolean;
  /** Fill task-derived fields (vocab, classes, max length) into a validated config. */
  resolve(cfg: z.output<S>, task: TaskShape): z.output<S>;
  create(cfg: z.output<S>, seed: number): TrainableModel;
  /**
   * Stacked replicas (train.stack; src/layers/replicas.ts); absent when the backbone cannot stack.
   * `create` builds one replica per seed as one model reading batches of R·B examples,
   * replica-major; `cannot` says what stops this config (one phrase), or undefined when it can.
   */
  stack?: {
    cannot(cfg: z.output<S>): string | undefined;
    create(cfg: z.output<S>, seeds: readonly number[]): TrainableModel;
  };
}

/** Checks a backbone with its own config type, then erases it for the one registry (as defineMixer). */
export function defineBackbone<S extends z.ZodType>(def: BackboneDef<S>): BackboneDef {
  return def as unknown as BackboneDef;
}
