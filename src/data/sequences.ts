// Labelled sequence data sets and their batches, shared by the sequence-classification tasks (LRA)
// and usable by any task with one label per example: packed variable-length storage, right padding
// with id 0 plus real lengths (so padding cannot change predictions), optional pairs (Retrieval),
// seeded shuffling per epoch and fixed evaluation order (src/tasks/types.ts Batch contract).
import type { Batch, EvalSplit, TrainSplit } from '../tasks/types.js';
import { MetalaError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';

export type TokenArray = Uint8Array | Uint16Array | Int32Array;

/** Labelled examples; ids are ≥ 1 where sequences get padded (0 is the padding id). */
export interface Examples {
  readonly size: number;
  label(i: number): number;
  /** Tokens of example i (may be a view: copy before keeping it). */
  tokens(i: number): TokenArray;
  /** Second sequence of a pair (Retrieval), when the set has pairs. */
  tokens2?(i: number): TokenArray;
}

/** In-memory packed storage: tokens of example i are tokens[offsets[i], offsets[i+1]). */
export class PackedExamples implements Examples {
  constructor(
    private readonly data: TokenArray,
    private readonly offsets: Float64Array,
    private readonly labels: Int32Array,
    private readonly pair?: PackedExamples,
  ) {}
  get size(): number {
    return this.labels.length;
  }
  label(i: number): number {
    return this.labels[i]!;
  }
  tokens(i: number): TokenArray {
    return this.data.subarray(this.offsets[i]!, this.offsets[i + 1]!);
  }
  get tokens2(): ((i: number) => TokenArray) | undefined {
    const p = this.pair;
    return p === undefined ? undefined : (i) => p.tokens(i);
  }
}

/** Grows packed storage one example at a time (amortised doubling). `bits` 8 fits ids < 256. */
export class PackedBuilder {
  private data: TokenArray;
  private offsets: number[] = [0];
  private labels: number[] = [];
  private used = 0;
  private readonly second: PackedBuilder | undefined;

  constructor(
    private readonly bits: 8 | 16 | 32,
    pairs = false,
  ) {
    this.data = this.alloc(1 << 16);
    this.second = pairs ? new PackedBuilder(bits) : undefined;
  }

  private alloc(n: number): TokenArray {
    return this.bits === 8 ? new Uint8Array(n) : this.bits === 16 ? new Uint16Array(n) : new Int32Array(n);
  }

  push(tokens: ArrayLike<number>, label: number, tokens2?: ArrayLike<number>): void {
    if ((tokens2 === undefined) !== (this.second === undefined)) throw new RangeError('PackedBuilder: pair given to a single set or missing from a pair set');
    if (this.used + tokens.length > this.data.length) {
      const grown = this.alloc(Math.max(2 * this.data.length, this.used + tokens.length));
      grown.set(this.data.subarray(0, this.used));
      this.data = grown;
    }
    this.data.set(tokens, this.used);
    this.used += tokens.length;
    this.offsets.push(this.used);
    this.labels.push(label);
    if (tokens2 !== undefined) this.second!.push(tokens2, label);
  }

  get size(): number {
    return this.labels.length;
  }

  build(): PackedExamples {
    return new PackedExamples(this.data.slice(0, this.used), Float64Array.from(this.offsets), Int32Array.from(this.labels), this.second?.build());
  }
}

/** A view of some examples of another set, in the given order. */
export function subset(ex: Examples, rows: ArrayLike<number>): Examples {
  const idx = Int32Array.from(rows);
  const t2 = ex.tokens2;
  return {
    size: idx.length,
    label: (i) => ex.label(idx[i]!),
    tokens: (i) => ex.tokens(idx[i]!),
    ...(t2 !== undefined ? { tokens2: (i: number) => t2.call(ex, idx[i]!) } : {}),
  };
}

export interface PadOptions {
  /** Longest sequence kept; longer ones are truncated to their first maxLen tokens (LRA). */
  maxLen: number;
  /** Batch length is the longest example rounded up to this multiple (fewer distinct shapes). */
  padMultiple: number;
}

/** Rows → one Batch: ids [B*T] right-padded with 0, lengths [B], labels [B] (+ ids2/lengths2). */
export function padBatch(ex: Examples, rows: ArrayLike<number>, o: PadOptions): Batch {
  const B = rows.length;
  const lengths = new Int32Array(B);
  const labels = new Int32Array(B);
  const t2 = ex.tokens2;
  const lengths2 = t2 !== undefined ? new Int32Array(B) : undefined;
  let longest = 1;
  for (let b = 0; b < B; b++) {
    lengths[b] = Math.min(o.maxLen, ex.tokens(rows[b]!).length);
    labels[b] = ex.label(rows[b]!);
    longest = Math.max(longest, lengths[b]!);
    if (lengths2 !== undefined) {
      lengths2[b] = Math.min(o.maxLen, t2!.call(ex, rows[b]!).length);
      longest = Math.max(longest, lengths2[b]!);
    }
  }
  const T = Math.min(o.maxLen, Math.ceil(longest / o.padMultiple) * o.padMultiple);
  const ids = new Int32Array(B * T);
  const ids2 = lengths2 !== undefined ? new Int32Array(B * T) : undefined;
  for (let b = 0; b < B; b++) {
    ids.set(ex.tokens(rows[b]!).subarray(0, lengths[b]!), b * T);
    if (ids2 !== undefined) ids2.set(t2!.call(ex, rows[b]!).subarray(0, lengths2![b]!), b * T);
  }
  return { ids, labels, batch: B, seqLen: T, lengths, ...(ids2 !== undefined ? { ids2, lengths2 } : {}) };
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new MetalaError(`train.batch_size: expected a positive integer, got ${batchSize}`);
}

/** A training split: a fresh seeded shuffle per epoch; the last batch may be smaller. */
export function trainSplit(ex: Examples, pad: PadOptions): TrainSplit {
  return {
    size: ex.size,
    *batches(batchSize: number, rng: Rng) {
      checkBatchSize(batchSize);
      const order = new Int32Array(ex.size);
      for (let i = 0; i < ex.size; i++) order[i] = i;
      for (let i = ex.size - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      for (let from = 0; from < ex.size; from += batchSize) yield padBatch(ex, order.subarray(from, Math.min(ex.size, from + batchSize)), pad);
    },
  };
}

/** An evaluation split: examples 0..N−1 in order, the same batches on every call. */
export function evalSplit(ex: Examples, pad: PadOptions): EvalSplit {
  return {
    size: ex.size,
    *batches(batchSize: number) {
      checkBatchSize(batchSize);
      for (let from = 0; from < ex.size; from += batchSize) {
        const rows = new Int32Array(Math.min(ex.size, from + batchSize) - from);
        for (let i = 0; i < rows.length; i++) rows[i] = from + i;
        yield padBatch(ex, rows, pad);
      }
    },
  };
}
