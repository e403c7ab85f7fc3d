// When a training step's logits are too large to form at once, a classifier head hands the loss
// its rows and weight instead (HeadRows, src/train/head_cross_entropy.ts computes the CE in chunks).
import { MetalaError } from '../util/errors.js';

const DEFAULT_MAX_BYTES = 2 ** 30;

/**
 * The most bytes of logits a training step forms at once (METALA_HEAD_LOGITS_MAX_BYTES, default
 * 1 GiB; WebGPU cannot bind more than 2 GiB as one buffer): larger heads are chunked.
 */
export function headLogitsMaxBytes(): number {
  const v = process.env['METALA_HEAD_LOGITS_MAX_BYTES'];
  if (v === undefined || v === '') return DEFAULT_MAX_BYTES;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 4) throw new MetalaError(`METALA_HEAD_LOGITS_MAX_BYTES: '${v}' is not a whole number of bytes (≥ 4). Unset it, or give e.g. 536870912`, 2);
  return n;
}

/** Whether `rows` rows of `classes` float32 logits are more than a step forms at once. */
export function logitsTooLarge(rows: number, classes: number): boolean {
  return rows * classes * 4 > headLogitsMaxBytes();
}

