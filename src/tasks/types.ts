// The task contract: one module per task family (generator or loader, batching, metric),
// registered once in registry.ts (style-models.md §8.5). A batch is token ids plus per-token
// labels with −100 = ignored, PyTorch's CrossEntropyLoss(ignore_index=−100) convention that
// Zoology's MQAR relies on (reference-implementations.md §2.2); classification tasks put their
// label at one position and −100 elsewhere.
import type { z } from 'zod';
import type { Rng } from '../util/rng.js';

/** Label value that the loss and the metrics skip (data/labels.ts). */
export { IGNORE_INDEX } from '../data/labels.js';

/**
 * One batch, row-major. Token-level tasks (MQAR, language modelling) label positions:
 * `labels` is [B*T] with IGNORE_INDEX where nothing is predicted. Sequence-level tasks (LRA,
 * images) label examples: `labels` is [B]. Optional fields carry what other inputs need.
 */
export interface Batch {
  /** Token ids [B*T] (LRA image/pathfinder: pixel intensities as tokens). */
  ids: Int32Array;
  /** [B*T] per position, or [B] per example (sequence-level tasks). */
  labels: Int32Array;
  /** B (the last batch of an epoch may be smaller than the requested batch size). */
  batch: number;
  /** T. */
  seqLen: number;
  /** Real lengths [B] when sequences are right-padded with id 0 (padding must not change predictions). */
  lengths?: Int32Array;
  /** Second sequence of a pair [B*T] (LRA Retrieval), with its own lengths. */
  ids2?: Int32Array;
  lengths2?: Int32Array;
  /** Images [B, H, W, C] float pixels, normalised (ViT backbones). */
  pixels?: Float32Array;
  imageShape?: [number, number, number];
  /** Real-valued tokens [B, T, F] (in-context regression prompts), with F = `featureDim`. */
  features?: Float32Array;
  featureDim?: number;
  /** Real-valued targets [B] of a regression task (`labels` is then empty). */
  targets?: Float32Array;
}

/**
 * The metric a task is judged by (its best checkpoint, early stop, the tables): accuracy (higher is
 * better) or perplexity (lower is better), for which the loop reports all of accuracy, loss and
 * perplexity; or, for a regression task, excess_risk (lower is better): the mean squared error of
 * the predictions against noise-free targets, which is then also the loss.
 */
export type MetricName = 'accuracy' | 'perplexity' | 'excess_risk';

export interface MetricResult {
  correct: number;
  total: number;
  /** correct / total, or NaN when nothing was labelled. */
  accuracy: number;
}

/** A training split: shuffled anew on every call to `batches` (one call = one epoch). */
export interface TrainSplit {
  /** Number of examples. */
  size: number;
  batches(batchSize: number, rng: Rng): Iterable<Batch>;
}

/** An evaluation split: always the same batches in the same order. */
export interface EvalSplit {
  size: number;
  batches(batchSize: number): Iterable<Batch>;
}

export interface TaskData {
  train: TrainSplit;
  test: EvalSplit;
  /**
   * The model-selection split, where a task has one distinct from `test` (LRA): the loop then picks
   * the best evaluation by it and reports the test split's metrics at that step, the LRA/S4
   * convention, instead of the best test metric over the run.
   */
  val?: EvalSplit;
  /** The seeds the splits were generated from (written to the run's config/summary). */
  seeds: { train: number; test: number };
}

/** A problem with otherwise schema-valid options, located by its key inside the task block. */
export interface OptionProblem {
  /** Key path inside `task:`, e.g. ['num_kv_pairs']. */
  path: string[];
  message: string;
}

export interface TaskDef<S extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  /**
   * Options schema (strict, with defaults, snake_case as upstream); `name` is added by the config
   * schema. It carries no refinements (zod 4 cannot `.extend()` a refined object): cross-field
   * rules live in `check`.
   */
  options: S;
  metric: MetricName;
  /** Cross-field rules the schema cannot state; [] when the options are usable. */
  check(opts: z.output<S>): OptionProblem[];
  /** Size of the embedding / LM head vocabulary. */
  vocabSize(opts: z.output<S>): number;
  /** T of every batch. */
  seqLen(opts: z.output<S>): number;
  /**
   * What the loop's throughput counts (batch · seqLen per step), for its labels: `tok` (default),
   * or `img` for image tasks, whose seqLen is 1 per image.
   */
  throughputUnit?: 'tok' | 'img';
  /** Classes of a sequence-classification task; omitted for token-level tasks (LM head over the vocabulary). */
  numClasses?(opts: z.output<S>): number;
  /** Width F of real-valued tokens (`Batch.features`), for tasks that have no token ids. */
  featureDim?(opts: z.output<S>): number;
  /** Generates or loads both splits; deterministic in (opts, seed). */
  makeData(opts: z.output<S>, seed: number): TaskData;
  /** The task's metric on argmax predictions [N*T] against labels [N*T] (unused by excess_risk tasks). */
  score(predsArgmax: Int32Array, labels: Int32Array): MetricResult;
}

export function defineTask<S extends z.ZodObject>(def: TaskDef<S>): TaskDef<S> {
  return def;
}
