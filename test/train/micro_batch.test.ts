// Gradient accumulation (train.micro_batch_size): a batch split into micro-batches gives the loss
// and gradients of the whole batch, also when the micro-batches hold different numbers of labelled
// positions (or none); slicing keeps every per-example field aligned; nothing leaks; a run trains the same.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../src/backend/index.js';
import { loadExperiment } from '../../src/config/load.js';
import { trainSchema } from '../../src/config/train_schema.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { SequenceClassifier } from '../../src/models/classifier.js';
import { classifierBackbone } from '../../src/models/classifier_backbone.js';
import { classifierSchema, type ClassifierConfig } from '../../src/models/classifier_config.js';
import type { TrainableModel } from '../../src/models/types.js';
import type { Batch } from '../../src/tasks/types.js';
import { trainRun } from '../../src/train/loop.js';
import { lossAndGrads, sliceBatch } from '../../src/train/micro_batch.js';
import { tinyConfig } from '../helpers/tiny.js';

let backend: BackendInfo;
beforeAll(async () => {
  backend = await initBackend('cpu');
});

const METALA = { name: 'metala', num_heads: 2, key_dim_ratio: 1, conv_size: 2 };

function perturb(m: TrainableModel, seed: number): void {
  tf.tidy(() => {
    for (const v of m.params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', seed)));
  });
}

/** Loss and per-parameter gradients, with micro-batches of `micro` examples (undefined: whole batch). */
function lossGrads(m: TrainableModel, b: Batch, micro?: number): { loss: number; grads: Map<string, Float32Array> } {
  const vars = [...m.params.vars.values()];
  const { value, grads } = lossAndGrads(m, b, vars, { training: true, micro });
  const out = new Map<string, Float32Array>();
  for (const [vn, g] of Object.entries(grads)) out.set(m.params.byVarName.get(vn)!, g.dataSync() as Float32Array);
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

function expectSame(m: TrainableModel, b: Batch, micro: number): void {
  const full = lossGrads(m, b);
  const n0 = tf.memory().numTensors;
  const acc = lossGrads(m, b, micro);
  expect(tf.memory().numTensors).toBe(n0);
  expect(acc.loss).toBeCloseTo(full.loss, 5);
  expect([...acc.grads.keys()].sort()).toEqual([...full.grads.keys()].sort());
  let nonZero = 0;
  for (const [name, g] of full.grads) {
    const a = acc.grads.get(name)!;
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < g.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(g[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(g[i]! - a[i]!));
    }
    if (maxAbs > 0) nonZero++;
    expect(maxDiff, name).toBeLessThanOrEqual(1e-5 * Math.max(1e-2, maxAbs));
  }
  expect(nonZero).toBeGreaterThan(full.grads.size / 2);
}

describe('micro-batches', () => {
  it('sliceBatch keeps per-position labels, per-example labels, lengths, pairs and pixels aligned', () => {
    const B = 3;
    const T = 4;
    const lm: Batch = { ids: Int32Array.from({ length: B * T }, (_, i) => i), labels: Int32Array.from({ length: B * T }, (_, i) => 100 + i), batch: B, seqLen: T };
    const s = sliceBatch(lm, 1, 3);
    expect([s.batch, s.seqLen]).toEqual([2, T]);
    expect(Array.from(s.ids)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(Array.from(s.labels)).toEqual([104, 105, 106, 107, 108, 109, 110, 111]);
    const cls: Batch = {
      ids: Int32Array.from({ length: B * T }, (_, i) => i), labels: Int32Array.from([7, 8, 9]), batch: B, seqLen: T, lengths: Int32Array.from([4, 3, 2]),
      ids2: Int32Array.from({ length: B * 2 }, (_, i) => 50 + i), lengths2: Int32Array.from([2, 1, 2]),
    };
    const c = sliceBatch(cls, 2, 3);
    expect(Array.from(c.labels)).toEqual([9]);
    expect(Array.from(c.lengths!)).toEqual([2]);
    expect(Array.from(c.ids2!)).toEqual([54, 55]);
    expect(Array.from(c.lengths2!)).toEqual([2]);
    const img: Batch = { ids: new Int32Array(0), labels: Int32Array.from([0, 1, 2]), batch: B, seqLen: 1, pixels: Float32Array.from({ length: B * 8 }, (_, i) => i), imageShape: [2, 2, 2] };
    const p = sliceBatch(img, 1, 2);
    expect(Array.from(p.pixels!)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(p.imageShape).toEqual([2, 2, 2]);
    expect(() => sliceBatch({ ...lm, labels: new Int32Array(5) }, 0, 1)).toThrow(/neither B·T nor B/);
  });

  it('LM: micro-batches with different label counts give the full-batch loss and gradients, no leak', () => {
    const cfg = lmSchema.parse({ d_model: 16, n_layers: 2, vocab_size: 24, mixer: METALA, channel_mixer: { name: 'glu' }, max_seq_len: 10 }) as LmConfig;
    const m = new CausalLM(cfg, 1);
    perturb(m, 2);
    const B = 5;
    const T = 10;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 24);
    // Example b has b + 1 labelled positions: micro-batches of 2, 2, 1 examples hold 3, 7 and 5 labels.
    const labels = Int32Array.from({ length: B * T }, (_, i) => (i % T < Math.floor(i / T) + 1 ? (i * 5) % 24 : -100));
    expectSame(m, { ids, labels, batch: B, seqLen: T }, 2);
    m.dispose();
  });

  it('a micro-batch without labelled positions is skipped; micro ≥ B is the single plain call', () => {
    const cfg = lmSchema.parse({ d_model: 8, n_layers: 1, vocab_size: 16, mixer: METALA, channel_mixer: { name: 'glu' }, max_seq_len: 4 }) as LmConfig;
    const m = new CausalLM(cfg, 1);
    perturb(m, 4);
    const B = 5;
    const T = 4;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % 16);
    // Examples 2 and 3 carry no label: with micro-batches of 2, the middle one has none.
    const labels = Int32Array.from({ length: B * T }, (_, i) => (Math.floor(i / T) === 2 || Math.floor(i / T) === 3 || i % 2 === 1 ? -100 : (i * 3) % 16));
    const b: Batch = { ids, labels, batch: B, seqLen: T };
    expectSame(m, b, 2);
    let calls = 0;
    const spy = { params: m.params, config: m.config, dispose: () => m.dispose(), supervised: (x: Batch, o?: object) => (calls++, m.supervised(x, o)) };
    const full = lossGrads(m, b);
    const one = lossGrads(spy, b, B);
    expect(calls).toBe(1);
    expect(one.loss).toBe(full.loss);
    for (const [name, g] of full.grads) expect(Array.from(one.grads.get(name)!), name).toEqual(Array.from(g));
    m.dispose();
  });

  it('classifier with padding (one label per example): same loss and gradients', () => {
    const parsed = classifierSchema.parse({ d_model: 16, n_layers: 1, mixer: METALA, bidirectional: true, pooling: 'mean' });
    const cfg = classifierBackbone.resolve(parsed, { vocabSize: 20, seqLen: 8, numClasses: 3 }) as ClassifierConfig;
    const m = new SequenceClassifier(cfg, 1);
    perturb(m, 3);
    const B = 4;
    const ids = Int32Array.from({ length: B * 8 }, (_, i) => (i * 3 + 1) % 20);
    expectSame(m, { ids, labels: Int32Array.from([0, 2, 1, 1]), batch: B, seqLen: 8, lengths: Int32Array.from([8, 5, 3, 8]) }, 3);
    m.dispose();
  });

  it('train.micro_batch_size is optional; a run with it logs the losses of the run without it', async () => {
    expect(trainSchema.parse({ batch_size: 2, max_steps: 1, lr: 1e-3 }).micro_batch_size).toBeUndefined();
    expect(() => trainSchema.parse({ batch_size: 2, max_steps: 1, lr: 1e-3, micro_batch_size: 0 })).toThrow();
    const losses = async (set: string[]): Promise<number[]> => {
      const { dir, file } = tinyConfig();
      const spec = loadExperiment(file, ['train.max_steps=4', 'train.log_every=1', ...set]).runs[0]!;
      await trainRun(spec, { resultsDir: dir, backend, progress: false });
      return readFileSync(join(dir, 'tiny', spec.run_id, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => typeof l.loss === 'number').map((l) => l.loss as number);
    };
    const plain = await losses([]);
    const micro = await losses(['train.micro_batch_size=5']);
    expect(micro.length).toBe(4);
    for (let i = 0; i < plain.length; i++) expect(micro[i]).toBeCloseTo(plain[i]!, 4);
  });
});
