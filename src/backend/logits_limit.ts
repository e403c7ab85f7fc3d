// How many bytes of logits a training step or an evaluation batch may form at once. Larger heads
// are chunked (src/models/head_rows.ts hands the loss the head's rows, src/train/head_cross_entropy.ts
// computes the cross-entropy and the argmax chunk by chunk). Read and checked when the backend
// starts (index.ts), so a bad value stops before any run folder is written.
import { MetalaError } from '../util/errors.js';

const DEFAULT_MAX_BYTES = 2 ** 30;

/**
 * METALA_HEAD_LOGITS_MAX_BYTES, default 1 GiB (WebGPU cannot bind more than 2 GiB as one buffer).
 */
export function headLogitsMaxBytes(): number {
  const v = process.env['METALA_HEAD_LOGITS_MAX_BYTES'];
  if (v === undefined || v === '') return DEFAULT_MAX_BYTES;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 4) throw new MetalaError(`METALA_HEAD_LOGITS_MAX_BYTES: '${v}' is not a whole number of bytes (≥ 4). Unset it, or give e.g. 536870912`, 2);
  return n;
}
