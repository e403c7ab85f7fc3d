// Language modelling (MetaLA §6 / App. A4, paper-metala.md §5.2, at CPU scale): a local corpus,
// tokenised once into a cached token file, packed into fixed-length sequences (nanoGPT-style
// contiguous windows), split into train / validation (the tail of the stream), with next-token
// labels at every position, so the one training loop reports loss and perplexity.
import { z } from 'zod';
import { loadTokenizer } from '../../tokenizers/index.js';
import { MetalaError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import { IGNORE_INDEX, defineTask } from '../types.js';
import type { Batch, MetricResult, OptionProblem } from '../types.js';
import { loadTokenStream } from './cache.js';
import { resolveCorpus } from './corpus.js';

export interface PackedStream {
  /** The whole token stream. */
  ids: Uint16Array | Uint32Array;
  seqLen: number;
  /** Sequence s covers tokens [s·T, s·T + T] (T + 1 tokens: inputs and shifted labels). */
  trainSeqs: number;
  valSeqs: number;
}

/**
 * Pack a token stream into non-overlapping windows of T + 1 tokens (stride T) and split them:
 * the last ⌈val_fraction · n⌉ windows (at least one) are validation, the rest train. The split
 * is contiguous, so no validation text leaks into training.
 */
export function packStream(ids: Uint16Array | Uint32Array, seqLen: number, valFraction: number, maxValSeqs?: number): PackedStream {
  const n = Math.floor((ids.length - 1) / seqLen);
  if (n < 2) {
    throw new MetalaError(`lm: the corpus has ${ids.length} tokens, fewer than 2 sequences of task.seq_len ${seqLen} + 1. Use a larger corpus or a smaller seq_len`);
  }
  let val = Math.max(1, Math.ceil(valFraction * n));
  if (val >= n) val = n - 1;
  if (maxValSeqs !== undefined) val = Math.min(val, maxValSeqs);
  return { ids, seqLen, trainSeqs: n - val, valSeqs: val };
}

/** Batch of sequences `seqs` (indices into the packed stream): ids [B*T] and next-token labels [B*T]. */
export function lmBatch(p: PackedStream, seqs: ArrayLike<number>): Batch {
  const T = p.seqLen;
  const b = seqs.length;
  const ids = new Int32Array(b * T);
  const labels = new Int32Array(b * T);
  for (let i = 0; i < b; i++) {
    const start = seqs[i]! * T;
    for (let t = 0; t < T; t++) {
      ids[i * T + t] = p.ids[start + t]!;
      labels[i * T + t] = p.ids[start + t + 1]!;
    }
  }
  return { ids, labels, batch: b, seqLen: T };
}

function* trainBatches(p: PackedStream, batchSize: number, rng: Rng): Generator<Batch> {
  const order = new Int32Array(p.trainSeqs);
  for (let i = 0; i < order.length; i++) order[i] = i;
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let from = 0; from < order.length; from += batchSize) yield lmBatch(p, order.subarray(from, Math.min(order.length, from + batchSize)));
}

function* valBatches(p: PackedStream, batchSize: number): Generator<Batch> {
  for (let from = 0; from < p.valSeqs; from += batchSize) {
    const to = Math.min(p.valSeqs, from + batchSize);
    yield lmBatch(p, Int32Array.from({ length: to - from }, (_, i) => p.trainSeqs + from + i));
  }
}

/** Next-token accuracy over labelled positions (the loop's perplexity comes from the CE). */
export function nextTokenAccuracy(preds: Int32Array, labels: Int32Array): MetricResult {
  let correct = 0;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === IGNORE_INDEX) continue;
    total++;
    if (preds[i] === labels[i]) correct++;
  }
  return { correct, total, accuracy: total === 0 ? Number.NaN : correct / total };
}

const options = z
  .object({
    /** 'moby-dick' (built in, offline) or a path to a .txt, .jsonl or .parquet corpus. */
    corpus: z.string().default('moby-dick'),
    /** JSONL key / Parquet column with the text. */
    text_field: z.string().default('text'),
    /** Encoding of a .txt/.jsonl corpus; unset = UTF-8, checked (invalid bytes are an error naming the offset). */
    encoding: z.enum(['utf-8', 'latin1']).optional(),
    /** 'byte', a built-in encoding (gpt2, cl100k_base, …) or a tokenizer.json / *.tiktoken path. */
    tokenizer: z.string().default('byte'),
    /** Tokens per training sequence (the paper: 2048). */
    seq_len: z.number().int().positive().default(128),
    /** Fraction of the packed sequences (the tail) held out for validation. */
    val_fraction: z.number().positive().max(0.5).default(0.05),
    /** Cap on validation sequences (evaluation cost on CPU); default: all. */
    val_max_sequences: z.number().int().positive().optional(),
    /** Where the token cache goes; default datasets/<corpus name>/cache. */
    cache_dir: z.string().optional(),
  })
  .strict();

export type LmOptions = z.output<typeof options>;

export const lm = defineTask({
  name: 'lm',
  description: 'language modelling on a local corpus (txt/JSONL/Parquet; default Moby-Dick, offline): next-token CE, perplexity',
  options,
  metric: 'perplexity',
  check(o) {
    const out: OptionProblem[] = [];
    try {
      resolveCorpus(o.corpus);
    } catch (e) {
      out.push({ path: ['corpus'], message: (e as Error).message });
    }
    try {
      loadTokenizer(o.tokenizer);
    } catch (e) {
      out.push({ path: ['tokenizer'], message: (e as Error).message });
    }
    return out;
  },
  vocabSize: (o) => loadTokenizer(o.tokenizer).vocabSize,
  seqLen: (o) => o.seq_len,
  makeData(o, seed) {
    const tok = loadTokenizer(o.tokenizer);
    const { ids } = loadTokenStream(resolveCorpus(o.corpus), o.text_field, tok, o.cache_dir, o.encoding);
    const p = packStream(ids, o.seq_len, o.val_fraction, o.val_max_sequences);
    return {
      train: { size: p.trainSeqs, batches: (bs, rng) => trainBatches(p, bs, rng) },
      test: { size: p.valSeqs, batches: (bs) => valBatches(p, bs) },
      // The split is positional, not random: both seeds are the run seed (shuffles derive from it).
      seeds: { train: seed, test: seed },
    };
  },
  score: nextTokenAccuracy,
});
