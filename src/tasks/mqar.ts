// Multi-query associative recall (MQAR): seeded generator, batching and accuracy.
// Protocol of MetaLA §6 / Fig. 3 / Tab. A7 (paper-metala.md §5.1), which follows Zoology's defaults.
// Ports HazyResearch/zoology `zoology/data/multiquery_ar.py::multiquery_ar` (@dbcb60d) and the
// accuracy of `zoology/train.py::compute_metrics` (reference-implementations.md §2.1, §2.3).
import { z } from 'zod';
import { MetalaError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { IGNORE_INDEX, defineTask } from './types.js';
import type { Batch, MetricResult, OptionProblem } from './types.js';

export interface MqarParams {
  /** V: ids are in [0, V); 0 is the filler. */
  vocabSize: number;
  /** T (Zoology's `input_seq_len`); must be even. */
  seqLen: number;
  numKvPairs: number;
  numExamples: number;
  seed: number;
  /** a of the gap power law p(g) ∝ a·g^{a−1}; 0.01 as in Zoology; 1 is uniform. */
  powerA?: number;
  /** Replace every filler 0 by a uniform token in [0, V) (Zoology default True; Fig. 2 uses False). */
  randomNonQueries?: boolean;
}

export interface MqarData {
  /** [N*T] row-major. */
  inputs: Int32Array;
  /** [N*T]; IGNORE_INDEX except at the numKvPairs query positions of each row. */
  labels: Int32Array;
  n: number;
  seqLen: number;
}

/**
 * Zoology's three assertions (plus the ones numpy would fail on), as located problems; the config
 * layer reports them with key paths, `generateMqar` throws them.
 */
export function mqarProblems(p: { vocabSize: number; seqLen: number; numKvPairs: number; powerA?: number }): OptionProblem[] {
  const out: OptionProblem[] = [];
  const { vocabSize: V, seqLen: T, numKvPairs: kv } = p;
  const a = p.powerA ?? 0.01;
  for (const [key, v] of [['vocab_size', V], ['input_seq_len', T], ['num_kv_pairs', kv]] as const) {
    if (!Number.isInteger(v) || v < 1) out.push({ path: [key], message: `expected a positive integer, got ${v}` });
  }
  if (out.length > 0) return out;
  if (T % 2 !== 0) out.push({ path: ['input_seq_len'], message: `must be even (Zoology asserts it), got ${T}` });
  if (!(V > T)) {
    out.push({ path: ['vocab_size'], message: `must be greater than input_seq_len ${T} (Zoology asserts it), got ${V}` });
  }
  if (4 * kv > T) {
    out.push({
      path: ['num_kv_pairs'],
      message: `${kv} pairs need input_seq_len ≥ 4·${kv} = ${4 * kv} (2·kv context tokens plus room for kv queries), got ${T}. Lower num_kv_pairs or raise input_seq_len`,
    });
  }
  if (!(Number.isFinite(a) && a > 0)) out.push({ path: ['power_a'], message: `expected a positive number, got ${a}` });
  return out;
}

/**
 * Generates N MQAR examples. Row layout (T = seqLen, kv = numKvPairs, C = 2·kv):
 * - [0, C): `k1 v1 k2 v2 …`, keys distinct from [1, ⌊V/2⌋), values distinct from [⌊V/2⌋, V);
 * - query j repeats key j at C + 2·gap_j, gaps distinct from {0 … (T−C)/2 − 1} with
 *   P(gap = i) ∝ a·(i+1)^{a−1} (so Zoology's g = i + 1 runs over 1..space);
 * - labels[C + 2·gap_j] = v_j (next-token target at the query key itself); every other label −100;
 * - all other inputs are 0, or uniform in [0, V) with `randomNonQueries`.
 * Deterministic: the same params give byte-identical arrays.
 * Zoology's docstring example (V=12, kv=2, T=16) breaks its own `V > T` assertion; we keep the
 * assertion, so that exact call throws here as it does upstream.
 */
export function generateMqar(params: MqarParams): MqarData {
  const { vocabSize: V, seqLen: T, numKvPairs: kv, numExamples: n, seed } = params;
  const powerA = params.powerA ?? 0.01;
  const problems = mqarProblems({ vocabSize: V, seqLen: T, numKvPairs: kv, powerA });
  if (!Number.isInteger(n) || n < 0) problems.push({ path: ['num_examples'], message: `expected an integer ≥ 0, got ${n}` });
  if (problems.length > 0) {
    throw new MetalaError(`mqar: ${problems.map((q) => `${q.path.join('.')}: ${q.message}`).join('; ')}`);
  }

  // Porting note: Zoology seeds numpy's MT19937 and draws keys for all rows, then values, then
  // gaps, then torch.randint fillers (from torch's own, unseeded stream). We draw per row from one
  // xoshiro stream: same distributions, different numbers, and fully seeded.
  const rng = new Rng(seed);
  const context = 2 * kv;
  const space = (T - context) / 2;
  const half = Math.floor(V / 2);
  const inputs = new Int32Array(n * T);
  const labels = new Int32Array(n * T).fill(IGNORE_INDEX);
  const gaps = new PowerLawSampler(space, powerA);
  // mark[t] === stamp ⇔ token t already used in the current row (no clearing between rows).
  const mark = new Int32Array(V);
  const keys = new Int32Array(kv);
  const vals = new Int32Array(kv);
  for (let e = 0; e < n; e++) {
    const stamp = e + 1;
    // Rejection sampling = uniform without replacement; cheap since kv ≤ T/4 < V/4.
    for (let j = 0; j < kv; j++) {
      let t: number;
      do t = rng.int(1, half);
      while (mark[t] === stamp);
      mark[t] = stamp;
      keys[j] = t;
    }
    for (let j = 0; j < kv; j++) {
      let t: number;
      do t = rng.int(half, V);
      while (mark[t] === stamp);
      mark[t] = stamp;
      vals[j] = t;
    }
    const o = e * T;
    for (let j = 0; j < kv; j++) {
      inputs[o + 2 * j] = keys[j]!;
      inputs[o + 2 * j + 1] = vals[j]!;
    }
    gaps.reset();
    for (let j = 0; j < kv; j++) {
      const pos = o + context + 2 * gaps.draw(rng);
      inputs[pos] = keys[j]!;
      labels[pos] = vals[j]!;
    }
  }
  if (params.randomNonQueries === true) {
    // Zoology: inputs[inputs == 0] = randint(V); the draw may be 0 again, or collide with a key (#29).
    for (let i = 0; i < inputs.length; i++) if (inputs[i] === 0) inputs[i] = rng.int(0, V);
  }
  return { inputs, labels, n, seqLen: T };
}

/**
 * Successive sampling without replacement from weights w_i = a·(i+1)^{a−1}, i ∈ [0, size): each
 * draw picks i with probability w_i / Σ(remaining w). This is the distribution of numpy's
 * `choice(size, k, replace=False, p=p)` with its draws in order. A Fenwick tree makes each draw
 * O(log size), so 100k rows × 64 queries stay fast.
 */
class PowerLawSampler {
  private readonly size: number;
  private readonly w: Float64Array;
  private readonly base: Float64Array;
  private readonly tree: Float64Array;
  private readonly taken: Uint8Array;
  private readonly top: number;

  constructor(size: number, a: number) {
    this.size = size;
    this.w = new Float64Array(size);
    for (let i = 0; i < size; i++) this.w[i] = a * (i + 1) ** (a - 1);
    // 1-based Fenwick tree of w, built in O(size).
    this.base = new Float64Array(size + 1);
    for (let i = 1; i <= size; i++) {
      this.base[i]! += this.w[i - 1]!;
      const j = i + (i & -i);
      if (j <= size) this.base[j]! += this.base[i]!;
    }
    this.tree = new Float64Array(size + 1);
    this.taken = new Uint8Array(size);
    let top = 1;
    while (top * 2 <= size) top *= 2;
    this.top = top;
  }

  reset(): void {
    this.tree.set(this.base);
    this.taken.fill(0);
  }

  draw(rng: Rng): number {
    for (let attempt = 0; attempt < 64; attempt++) {
      let total = 0;
      for (let i = this.size; i > 0; i -= i & -i) total += this.tree[i]!;
      let u = rng.next() * total;
      // Smallest index whose prefix sum exceeds u.
      let pos = 0;
      for (let step = this.top; step > 0; step >>= 1) {
        const nxt = pos + step;
        if (nxt <= this.size && this.tree[nxt]! <= u) {
          pos = nxt;
          u -= this.tree[nxt]!;
        }
      }
      // Rounding can land on an exhausted index or past the end; draw again.
      if (pos < this.size && this.taken[pos] === 0) {
        this.take(pos);
        return pos;
      }
    }
    // Unreachable in practice (needs 64 rounding misses in a row); stays exact enough.
    const pos = this.taken.indexOf(0);
    if (pos < 0) throw new RangeError('PowerLawSampler: more draws than items');
    this.take(pos);
    return pos;
  }

  private take(pos: number): void {
    this.taken[pos] = 1;
    const wi = this.w[pos]!;
    for (let i = pos + 1; i <= this.size; i += i & -i) this.tree[i]! -= wi;
  }
}

/**
 * Seeds of the train and test splits derived from the run seed.
 * Porting note: Zoology's `prepare_data` seeds numpy with the config seed and draws train segment
 * seeds from [0, 2^31) and test seeds from [2^31, 2^32); we do the same with `Rng(seed).fork()`,
 * so the two splits never share a seed.
 */
export function mqarSplitSeeds(seed: number): { train: number; test: number } {
  const root = new Rng(seed);
  const train = root.fork();
  const test = (root.fork() | 0x80000000) >>> 0;
  return { train, test };
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new MetalaError(`train.batch_size: expected a positive integer, got ${batchSize}`);
  }
}

function rowsBatch(data: MqarData, rows: ArrayLike<number>, from: number, to: number): Batch {
  const T = data.seqLen;
  const b = to - from;
  const ids = new Int32Array(b * T);
  const labels = new Int32Array(b * T);
  for (let i = 0; i < b; i++) {
    const r = rows[from + i]!;
    ids.set(data.inputs.subarray(r * T, (r + 1) * T), i * T);
    labels.set(data.labels.subarray(r * T, (r + 1) * T), i * T);
  }
  return { ids, labels, batch: b, seqLen: T };
}

/**
 * One epoch of shuffled batches (Zoology: DataLoader(shuffle=True), so the last batch may be
 * smaller). Each batch owns fresh arrays.
 */
export function* mqarBatches(data: MqarData, batchSize: number, rng: Rng): Generator<Batch> {
  checkBatchSize(batchSize);
  const order = new Int32Array(data.n);
  for (let i = 0; i < data.n; i++) order[i] = i;
  for (let i = data.n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  for (let from = 0; from < data.n; from += batchSize) yield rowsBatch(data, order, from, Math.min(data.n, from + batchSize));
}

/** The evaluation order: rows 0..N−1 in order, same batches every call. */
export function* mqarEvalBatches(data: MqarData, batchSize: number): Generator<Batch> {
  checkBatchSize(batchSize);
  const T = data.seqLen;
  for (let from = 0; from < data.n; from += batchSize) {
    const to = Math.min(data.n, from + batchSize);
    yield {
      ids: data.inputs.slice(from * T, to * T),
      labels: data.labels.slice(from * T, to * T),
      batch: to - from,
      seqLen: T,
    };
  }
}

/**
 * Query accuracy: argmax predictions [N*T] against labels [N*T], over labelled positions only.
 * Porting note: Zoology averages per-example accuracies over examples; every MQAR row has exactly
 * num_kv_pairs queries, so that equals this micro average over queries (they differ only when
 * segments with different kv counts are pooled, which we never do).
 */
export function mqarAccuracy(predsArgmax: Int32Array, labels: Int32Array): MetricResult {
  if (predsArgmax.length !== labels.length) {
    throw new RangeError(`mqarAccuracy: ${predsArgmax.length} predictions for ${labels.length} labels`);
  }
  let correct = 0;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y === IGNORE_INDEX) continue;
    total++;
    if (predsArgmax[i] === y) correct++;
  }
  return { correct, total, accuracy: total === 0 ? Number.NaN : correct / total };
}

// Defaults: Zoology's ICLR24 Figure 2 config, which MetaLA follows (paper-metala.md §5.1).
const options = z
  .object({
    vocab_size: z.number().int().positive().default(8192),
    input_seq_len: z.number().int().positive(),
    num_kv_pairs: z.number().int().positive(),
    train_examples: z.number().int().positive().default(100_000),
    test_examples: z.number().int().positive().default(3_000),
    power_a: z.number().positive().default(0.01),
    // Porting note: the generator's own default is True; Zoology's Figure 2 config sets False.
    random_non_queries: z.boolean().default(false),
  })
  .strict();

export type MqarOptions = z.output<typeof options>;

export const mqar = defineTask({
  name: 'mqar',
  description: 'Multi-query associative recall (Zoology multiquery_ar); MetaLA Fig. 3 and Tab. A7',
  options,
  metric: 'accuracy',
  check: (o) =>
    mqarProblems({ vocabSize: o.vocab_size, seqLen: o.input_seq_len, numKvPairs: o.num_kv_pairs, powerA: o.power_a }),
  vocabSize: (o) => o.vocab_size,
  seqLen: (o) => o.input_seq_len,
  makeData(o, seed) {
    const seeds = mqarSplitSeeds(seed);
    const common = {
      vocabSize: o.vocab_size,
      seqLen: o.input_seq_len,
      numKvPairs: o.num_kv_pairs,
      powerA: o.power_a,
      randomNonQueries: o.random_non_queries,
    };
    const train = generateMqar({ ...common, numExamples: o.train_examples, seed: seeds.train });
    const test = generateMqar({ ...common, numExamples: o.test_examples, seed: seeds.test });
    return {
      train: { size: train.n, batches: (bs, rng) => mqarBatches(train, bs, rng) },
      test: { size: test.n, batches: (bs) => mqarEvalBatches(test, bs) },
      seeds,
    };
  },
  score: mqarAccuracy,
});
