// When a step's logits (training or evaluation) are too large to form at once, a classifier head
// hands the loss its rows and weight instead (HeadRows; src/train/head_cross_entropy.ts computes the
// CE, and evaluation's argmax, in chunks).
import { headLogitsMaxBytes } from '../backend/logits_limit.js';

/** Whether `rows` rows of `classes` float32 logits are more than a step (or an evaluation batch) forms at once. */
export function logitsTooLarge(rows: number, classes: number): boolean {
  return rows * classes * 4 > headLogitsMaxBytes();
}
