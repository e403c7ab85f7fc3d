// MQAR generator, batching and accuracy (src/tasks/mqar.ts): structure of Zoology's
// multiquery_ar (reference-implementations.md §2.1), determinism, and the docstring example.
import { describe, expect, it } from 'vitest';
import {
  generateMqar,
  mqarAccuracy,
  mqarBatches,
  mqarEvalBatches,
  mqarProblems,
  mqarSplitSeeds,
} from '../../src/tasks/mqar.js';
import type { MqarData } from '../../src/tasks/mqar.js';
import { IGNORE_INDEX } from '../../src/tasks/types.js';
import { MetalaError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const bytes = (a: Int32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/**
 * Every rule of one row (filler 0 unless `randomFill`): returns the gap of each query j, in the
 * order of the keys in the context.
 */
function checkRow(inputs: ArrayLike<number>, labels: ArrayLike<number>, V: number, kv: number, randomFill = false): number[] {
  const T = inputs.length;
  const C = 2 * kv;
  const half = Math.floor(V / 2);
  const keys: number[] = [];
  const vals: number[] = [];
  for (let j = 0; j < kv; j++) {
    keys.push(inputs[2 * j]!);
    vals.push(inputs[2 * j + 1]!);
  }
  for (const k of keys) expect(k >= 1 && k < half).toBe(true);
  for (const v of vals) expect(v >= half && v < V).toBe(true);
  expect(new Set(keys).size).toBe(kv);
  expect(new Set(vals).size).toBe(kv);
  const gaps = new Array<number>(kv).fill(-1);
  let labelled = 0;
  for (let t = 0; t < T; t++) {
    if (labels[t] === IGNORE_INDEX) {
      if (t >= C && !randomFill) expect(inputs[t]).toBe(0);
      continue;
    }
    labelled++;
    expect(t).toBeGreaterThanOrEqual(C);
    expect((t - C) % 2).toBe(0);
    const j = keys.indexOf(inputs[t]!);
    expect(j).toBeGreaterThanOrEqual(0);
    expect(labels[t]).toBe(vals[j]);
    expect(gaps[j]).toBe(-1);
    gaps[j] = (t - C) / 2;
  }
  for (let t = 0; t < C; t++) expect(labels[t]).toBe(IGNORE_INDEX);
  expect(labelled).toBe(kv);
  return gaps;
}

describe('generateMqar', () => {
  it("follows the structure of Zoology's docstring example (kv=2, T=16)", () => {
    // The docstring prints 15 tokens for input_seq_len=16; the 16th is a filler.
    const zInputs = [2, 8, 4, 7, 0, 0, 4, 0, 0, 0, 0, 0, 2, 0, 0, 0];
    const zLabels = [-100, -100, -100, -100, -100, -100, 7, -100, -100, -100, -100, -100, 8, -100, -100, -100];
    expect(checkRow(zInputs, zLabels, 12, 2)).toEqual([4, 1]);

    // The docstring's own parameters break Zoology's `vocab_size > input_seq_len` assertion (12 ≤ 16),
    // so upstream would raise on them too; generate with the smallest vocabulary it accepts.
    expect(() => generateMqar({ vocabSize: 12, seqLen: 16, numKvPairs: 2, numExamples: 1, seed: 7 })).toThrow(/vocab_size/);
    const d = generateMqar({ vocabSize: 17, seqLen: 16, numKvPairs: 2, numExamples: 300, seed: 7 });
    expect(d.inputs.length).toBe(300 * 16);
    expect(d.labels.length).toBe(300 * 16);
    for (let e = 0; e < d.n; e++) {
      const gaps = checkRow(d.inputs.subarray(e * 16, e * 16 + 16), d.labels.subarray(e * 16, e * 16 + 16), 17, 2);
      // space = (16 − 4) / 2 = 6 query slots.
      for (const g of gaps) expect(g >= 0 && g < 6).toBe(true);
    }
  });

  it('keeps keys and values in their ranges and unique per row (Fig. 3 shape)', () => {
    const V = 8192;
    const T = 256;
    const kv = 16;
    const d = generateMqar({ vocabSize: V, seqLen: T, numKvPairs: kv, numExamples: 200, seed: 1 });
    for (let e = 0; e < d.n; e++) {
      checkRow(d.inputs.subarray(e * T, (e + 1) * T), d.labels.subarray(e * T, (e + 1) * T), V, kv);
    }
  });

  it('fills the whole query span when 4·kv = T', () => {
    const d = generateMqar({ vocabSize: 40, seqLen: 32, numKvPairs: 8, numExamples: 50, seed: 3 });
    for (let e = 0; e < d.n; e++) {
      const gaps = checkRow(d.inputs.subarray(e * 32, (e + 1) * 32), d.labels.subarray(e * 32, (e + 1) * 32), 40, 8);
      expect([...gaps].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it('is byte-identical for the same seed and differs for another', () => {
    const p = { vocabSize: 8192, seqLen: 128, numKvPairs: 8, numExamples: 500 };
    const a = generateMqar({ ...p, seed: 42 });
    const b = generateMqar({ ...p, seed: 42 });
    const c = generateMqar({ ...p, seed: 43 });
    expect(bytes(a.inputs).equals(bytes(b.inputs))).toBe(true);
    expect(bytes(a.labels).equals(bytes(b.labels))).toBe(true);
    expect(bytes(a.inputs).equals(bytes(c.inputs))).toBe(false);
    const r1 = generateMqar({ ...p, seed: 42, randomNonQueries: true });
    const r2 = generateMqar({ ...p, seed: 42, randomNonQueries: true });
    expect(bytes(r1.inputs).equals(bytes(r2.inputs))).toBe(true);
  });

  it('draws gaps from the power law: first gap ∝ (i+1)^(a−1), small gaps dominate', () => {
    const T = 64;
    const a = 0.01;
    const space = (T - 2) / 2;
    const n = 20000;
    const d = generateMqar({ vocabSize: 128, seqLen: T, numKvPairs: 1, numExamples: n, seed: 11, powerA: a });
    const counts = new Array<number>(space).fill(0);
    for (let e = 0; e < n; e++) {
      for (let t = 2; t < T; t++) if (d.labels[e * T + t] !== IGNORE_INDEX) counts[(t - 2) / 2]!++;
    }
    let z = 0;
    for (let i = 0; i < space; i++) z += (i + 1) ** (a - 1);
    for (const i of [0, 1, 5]) {
      const p = (i + 1) ** (a - 1) / z;
      const sd = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(counts[i]! / n - p)).toBeLessThan(5 * sd);
    }
    expect(counts[0]!).toBeGreaterThan(counts[10]!);
    expect(counts[0]! + counts[1]! + counts[2]!).toBeGreaterThan(counts[28]! + counts[29]! + counts[30]!);

    // a = 1 is uniform: the mean gap moves up to (space − 1) / 2.
    const meanGap = (powerA: number): number => {
      const g = generateMqar({ vocabSize: 128, seqLen: T, numKvPairs: 4, numExamples: 3000, seed: 5, powerA });
      let s = 0;
      let c = 0;
      for (let e = 0; e < g.n; e++) {
        for (let t = 8; t < T; t++) {
          if (g.labels[e * T + t] !== IGNORE_INDEX) {
            s += (t - 8) / 2;
            c++;
          }
        }
      }
      return s / c;
    };
    expect(meanGap(0.01)).toBeLessThan(meanGap(1) - 3);
    expect(Math.abs(meanGap(1) - (28 - 1) / 2)).toBeLessThan(0.5);
  });

  it('random_non_queries replaces only fillers and keeps the same keys, values and queries', () => {
    const p = { vocabSize: 64, seqLen: 32, numKvPairs: 4, numExamples: 100, seed: 9 };
    const plain = generateMqar(p);
    const noisy = generateMqar({ ...p, randomNonQueries: true });
    expect(bytes(noisy.labels).equals(bytes(plain.labels))).toBe(true);
    let changed = 0;
    for (let i = 0; i < plain.inputs.length; i++) {
      if (plain.inputs[i] !== 0) expect(noisy.inputs[i]).toBe(plain.inputs[i]);
      else if (noisy.inputs[i] !== 0) changed++;
      expect(noisy.inputs[i]! >= 0 && noisy.inputs[i]! < 64).toBe(true);
    }
    expect(changed).toBeGreaterThan(0.9 * (100 * (32 - 8 - 4)));
  });

  it("ports Zoology's assertions as MetalaErrors", () => {
    const base = { vocabSize: 64, seqLen: 32, numKvPairs: 4, numExamples: 2, seed: 0 };
    expect(() => generateMqar({ ...base, seqLen: 31 })).toThrow(MetalaError);
    expect(() => generateMqar({ ...base, seqLen: 31 })).toThrow(/input_seq_len: must be even.*got 31/);
    expect(() => generateMqar({ ...base, vocabSize: 32 })).toThrow(/vocab_size: must be greater than input_seq_len 32.*got 32/);
    expect(() => generateMqar({ ...base, numKvPairs: 9 })).toThrow(/num_kv_pairs: 9 pairs need input_seq_len ≥ 4·9 = 36.*got 32/);
    expect(() => generateMqar({ ...base, powerA: 0 })).toThrow(/power_a/);
    expect(() => generateMqar({ ...base, numExamples: -1 })).toThrow(/num_examples/);
    expect(mqarProblems({ vocabSize: 64, seqLen: 32, numKvPairs: 8 })).toEqual([]);
  });
});

describe('mqarSplitSeeds', () => {
  it('derives distinct, deterministic train and test seeds (train < 2^31 ≤ test)', () => {
    const s = mqarSplitSeeds(123);
    expect(mqarSplitSeeds(123)).toEqual(s);
    expect(s.train).toBeLessThan(2 ** 31);
    expect(s.test).toBeGreaterThanOrEqual(2 ** 31);
    expect(s.test).toBeLessThan(2 ** 32);
    expect(mqarSplitSeeds(124)).not.toEqual(s);
  });
});

describe('batching', () => {
  const data: MqarData = generateMqar({ vocabSize: 64, seqLen: 16, numKvPairs: 2, numExamples: 10, seed: 2 });
  const rowKey = (ids: Int32Array, i: number, T: number): string => ids.subarray(i * T, (i + 1) * T).join(',');

  it('yields every row once per epoch, shuffled, last batch smaller', () => {
    const batches = [...mqarBatches(data, 4, new Rng(1))];
    expect(batches.map((b) => b.batch)).toEqual([4, 4, 2]);
    const seen: string[] = [];
    for (const b of batches) {
      expect(b.seqLen).toBe(16);
      expect(b.ids.length).toBe(b.batch * 16);
      expect(b.labels.length).toBe(b.batch * 16);
      for (let i = 0; i < b.batch; i++) {
        const k = rowKey(b.ids, i, 16);
        const r = [...Array(data.n).keys()].find((e) => rowKey(data.inputs, e, 16) === k)!;
        expect(rowKey(b.labels, i, 16)).toBe(rowKey(data.labels, r, 16));
        seen.push(k);
      }
    }
    const all = [...Array(data.n).keys()].map((e) => rowKey(data.inputs, e, 16));
    expect([...seen].sort()).toEqual([...all].sort());
    expect(seen).not.toEqual(all);
    const again = [...mqarBatches(data, 4, new Rng(1))];
    expect(again.map((b) => [...b.ids])).toEqual(batches.map((b) => [...b.ids]));
  });

  it('evaluates in order, the same every call', () => {
    const b1 = [...mqarEvalBatches(data, 3)];
    expect(b1.map((b) => b.batch)).toEqual([3, 3, 3, 1]);
    const ids = new Int32Array(b1.reduce((s, b) => s + b.ids.length, 0));
    let o = 0;
    for (const b of b1) {
      ids.set(b.ids, o);
      o += b.ids.length;
    }
    expect(bytes(ids).equals(bytes(data.inputs))).toBe(true);
  });

  it('rejects a bad batch size', () => {
    expect(() => [...mqarBatches(data, 0, new Rng(1))]).toThrow(/batch_size: expected a positive integer, got 0/);
  });
});

describe('mqarAccuracy', () => {
  it('counts only labelled positions (micro average)', () => {
    const labels = Int32Array.from([-100, 5, -100, 7, 9, -100]);
    const preds = Int32Array.from([1, 5, 2, 0, 9, 3]);
    expect(mqarAccuracy(preds, labels)).toEqual({ correct: 2, total: 3, accuracy: 2 / 3 });
    expect(mqarAccuracy(Int32Array.from([0]), Int32Array.from([-100])).accuracy).toBeNaN();
    expect(() => mqarAccuracy(Int32Array.from([0]), labels)).toThrow(RangeError);
  });

  it('is 1 when predictions equal the labels of generated data', () => {
    const d = generateMqar({ vocabSize: 64, seqLen: 32, numKvPairs: 4, numExamples: 20, seed: 4 });
    const r = mqarAccuracy(d.labels, d.labels);
    expect(r.total).toBe(20 * 4);
    expect(r.accuracy).toBe(1);
  });
});
