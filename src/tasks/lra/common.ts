// Shared pieces of the Long Range Arena tasks (paper §5.4 / Tab. 7; reference-implementations.md §3):
// the option fields every LRA task has, the evaluation-split choice, seeded split derivation, byte
// tokenisation, and the per-example accuracy that LRA reports.
import { z } from 'zod';
import { evalSplit, subset, trainSplit } from '../../data/sequences.js';
import type { Examples, PadOptions } from '../../data/sequences.js';
import { Rng } from '../../util/rng.js';
import type { MetricResult, TaskData } from '../types.js';

/** Option fields shared by every LRA task (each task adds its own and its defaults). */
export const lraCommonFields = {
  /** Folder with the task's files; default: the data set's cache folder under datasets/. */
  data_dir: z.string().min(1).optional(),
  /**
   * Which held-out split the loop evaluates (and picks its best step on): LRA reports test
   * accuracy; `val` keeps test untouched. Text has no validation split in LRA (test doubles as it).
   */
  eval_split: z.enum(['test', 'val']).default('test'),
  /** Use only the first N training / evaluation examples (quick runs); default all. */
  limit_train: z.number().int().positive().optional(),
  limit_eval: z.number().int().positive().optional(),
  /** Batches are padded to the longest example rounded up to this multiple (fewer kernel shapes). */
  pad_multiple: z.number().int().positive().default(64),
};

/** Per-example accuracy: argmax predictions [N] against labels [N]. */
export function lraAccuracy(preds: Int32Array, labels: Int32Array): MetricResult {
  if (preds.length !== labels.length) throw new RangeError(`lraAccuracy: ${preds.length} predictions for ${labels.length} labels`);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (preds[i] === labels[i]) correct++;
  return { correct, total: labels.length, accuracy: labels.length === 0 ? Number.NaN : correct / labels.length };
}

/** The first n examples of a set (all when n is undefined or larger). */
export function firstN(ex: Examples, n: number | undefined): Examples {
  if (n === undefined || n >= ex.size) return ex;
  return subset(ex, Int32Array.from({ length: n }, (_, i) => i));
}

/** Train / val / test examples → the loop's TaskData (train shuffled per epoch, eval in order). */
export function lraTaskData(
  sets: { train: Examples; val: Examples; test: Examples },
  o: { eval_split: 'test' | 'val'; limit_train?: number; limit_eval?: number; pad_multiple: number },
  maxLen: number,
  seeds: { train: number; test: number },
): TaskData {
  const pad: PadOptions = { maxLen, padMultiple: o.pad_multiple };
  const evalSet = o.eval_split === 'val' ? sets.val : sets.test;
  // Model selection on a validation split distinct from test (when the data has one and test is
  // what the run reports).
  const val = o.eval_split === 'test' && sets.val !== sets.test ? { val: evalSplit(firstN(sets.val, o.limit_eval), pad) } : {};
  return {
    train: trainSplit(firstN(sets.train, o.limit_train), pad),
    test: evalSplit(firstN(evalSet, o.limit_eval), pad),
    ...val,
    seeds,
  };
}

/**
 * Train/test generator seeds from the run seed (disjoint streams, as mqarSplitSeeds), and a third
 * for a validation split (forked after the other two, which therefore stay what they were).
 */
export function generatedSeeds(seed: number): { train: number; test: number; val: number } {
  const root = new Rng(seed);
  const train = root.fork();
  const test = (root.fork() | 0x80000000) >>> 0;
  return { train, test, val: (root.fork() ^ 0x5bd1e995) >>> 0 };
}

/**
 * A seeded 80/10/10 split of N example indices (S4's PathFinderDataset: random split, seed 42;
 * LRA: 80/10/10 of the examples). Returns index arrays into the original order.
 */
export function splitIndices(n: number, seed: number, fractions: readonly [number, number] = [0.8, 0.1]): { train: Int32Array; val: Int32Array; test: Int32Array } {
  const order = Array.from({ length: n }, (_, i) => i);
  new Rng(seed).shuffle(order);
  const nTrain = Math.round(n * fractions[0]);
  const nVal = Math.round(n * fractions[1]);
  return {
    train: Int32Array.from(order.slice(0, nTrain)),
    val: Int32Array.from(order.slice(nTrain, nTrain + nVal)),
    test: Int32Array.from(order.slice(nTrain + nVal)),
  };
}

/**
 * Byte-level ids (LRA `tokenizer='char'`): UTF-8 byte b → b + 1, so 0 stays the padding id.
 * Porting note: tensor2tensor's ByteTextEncoder (LRA) reserves two ids (PAD, EOS) and maps b → b + 2;
 * we reserve only PAD and append no EOS (S4 appends one). The ids are a relabelling, not a change of input.
 */
export const BYTE_VOCAB = 257;

export function byteIds(text: string, maxLen: number): Uint8Array | Uint16Array {
  const bytes = Buffer.from(text, 'utf8');
  const n = Math.min(maxLen, bytes.length);
  const ids = new Uint16Array(n);
  for (let i = 0; i < n; i++) ids[i] = bytes[i]! + 1;
  return ids;
}
