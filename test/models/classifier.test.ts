// The LRA sequence classifier: the bidirectional wrapper is not causal while the plain mixer is;
// padding never changes a prediction (causal and bidirectional, mean / last / CLS pooling, two
// towers); every parameter gets a finite non-zero gradient; no tensor leaks; config rules hold.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { createSequenceMixer, reversalIndex } from '../../src/models/bidirectional.js';
import { SequenceClassifier } from '../../src/models/classifier.js';
import { classifierBackbone } from '../../src/models/classifier_backbone.js';
import { classifierSchema } from '../../src/models/classifier_config.js';
import type { ClassifierConfig } from '../../src/models/classifier_config.js';
import { Params } from '../../src/layers/params.js';
import { padBatch, PackedBuilder } from '../../src/data/sequences.js';
import { Rng } from '../../src/util/rng.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const D = 16;
const METALA = { name: 'metala', num_heads: 2, conv_size: 2 };

function model(over: Record<string, unknown>, seed = 1): SequenceClassifier {
  const parsed = classifierSchema.parse({ d_model: D, n_layers: 2, mixer: METALA, channel_mixer: { name: 'glu', hidden: 24 }, ...over });
  const cfg = classifierBackbone.resolve(parsed, { vocabSize: 20, seqLen: 32, numClasses: 3 }) as ClassifierConfig;
  const m = new SequenceClassifier(cfg, seed);
  // Non-default weights everywhere (zero-initialised gains/CLS would hide paths).
  tf.tidy(() => {
    for (const v of m.params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', seed)));
  });
  return m;
}

describe('bidirectional wrapper', () => {
  it('reverses within real lengths and is its own inverse', () => {
    const idx = reversalIndex([3, 5], 2, 5);
    expect([...idx]).toEqual([2, 1, 0, 3, 4, 9, 8, 7, 6, 5]);
    expect([...idx].map((i) => idx[i])).toEqual([...idx.keys()]);
  });

  it.each([
    ['metala', METALA],
    ['softmax', { name: 'softmax', num_heads: 2 }],
  ])('%s: causal alone, not causal when bidirectional', async (_n, mixer) => {
    const T = 9;
    const t0 = 3;
    for (const bidirectional of [false, true]) {
      const params = new Params(3);
      const m = createSequenceMixer({ mixer, bidirectional, combine: 'add', initStd: 0.3 }, { dModel: D, layer: 0, nLayers: 1, params: params.scope('m'), maxSeqLen: 16 });
      tf.tidy(() => {
        for (const v of params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 2)));
      });
      const x = tf.randomNormal([1, T, D], 0, 1, 'float32', 5) as tf.Tensor3D;
      const x2 = tf.concat([tf.slice(x, [0, 0, 0], [1, t0 + 1, D]), tf.randomNormal([1, T - t0 - 1, D], 0, 1, 'float32', 6)], 1) as tf.Tensor3D;
      const rev = tf.tensor1d(reversalIndex(undefined, 1, T), 'int32');
      const y1 = (await tf.tidy(() => tf.slice(m.forward(x, rev), [0, 0, 0], [1, t0 + 1, D])).data()) as Float32Array;
      const y2 = (await tf.tidy(() => tf.slice(m.forward(x2, rev), [0, 0, 0], [1, t0 + 1, D])).data()) as Float32Array;
      const diff = Math.max(...y1.map((v, i) => Math.abs(v - y2[i]!)));
      expect(m.causal).toBe(!bidirectional);
      if (bidirectional) expect(diff).toBeGreaterThan(1e-3);
      else expect(diff).toBeLessThan(1e-5);
      tf.dispose([x, x2, rev]);
      params.dispose();
    }
  });
});

/** Logits of each example alone (no padding) and inside one padded batch. */
async function alonePadded(m: SequenceClassifier, seqs: number[][], pairs?: number[][]): Promise<{ alone: number[][]; batched: number[][] }> {
  const b = new PackedBuilder(8, pairs !== undefined);
  seqs.forEach((s, i) => b.push(s, 0, pairs?.[i]));
  const ex = b.build();
  const run = async (rows: number[], padMultiple: number) => {
    const batch = padBatch(ex, rows, { maxLen: 64, padMultiple });
    const out = tf.tidy(() => m.forward(batch));
    const arr = (await out.array()) as number[][];
    out.dispose();
    return arr;
  };
  const alone: number[][] = [];
  for (let i = 0; i < seqs.length; i++) alone.push((await run([i], 1))[0]!);
  return { alone, batched: await run(seqs.map((_, i) => i), 16) };
}

describe('SequenceClassifier', () => {
  const rng = new Rng(9);
  const seq = (n: number) => Array.from({ length: n }, () => rng.int(1, 20));
  const seqs = [seq(3), seq(11), seq(7), seq(1)];

  it.each([
    ['causal mean', { pooling: 'mean' }],
    ['causal last', { pooling: 'last' }],
    ['bidirectional mean', { bidirectional: true }],
    ['bidirectional CLS, concat combine', { bidirectional: true, pooling: 'cls', combine: 'concat' }],
    ['bidirectional softmax', { bidirectional: true, mixer: { name: 'softmax', num_heads: 2 } }],
    ['linear encoder, MLP head, rmsnorm', { encoder: 'linear', head_hidden: 8, norm: 'simplermsnorm' }],
  ])('padding does not change predictions: %s', async (_name, over) => {
    const m = model(over);
    const { alone, batched } = await alonePadded(m, seqs);
    for (let i = 0; i < seqs.length; i++) for (let c = 0; c < 3; c++) expect(Math.abs(alone[i]![c]! - batched[i]![c]!)).toBeLessThan(1e-4);
    // …and the examples are told apart (the check is not vacuous).
    expect(Math.abs(batched[0]![0]! - batched[1]![0]!)).toBeGreaterThan(1e-4);
    m.dispose();
  });

  it('dual tower: [u, v, u·v, u−v] head, padding-invariant, order of the pair matters', async () => {
    const m = model({ dual_tower: true, bidirectional: true });
    const pairs = [seq(5), seq(2), seq(9), seq(4)];
    const { alone, batched } = await alonePadded(m, seqs, pairs);
    for (let i = 0; i < seqs.length; i++) for (let c = 0; c < 3; c++) expect(Math.abs(alone[i]![c]! - batched[i]![c]!)).toBeLessThan(1e-4);
    const swapped = await alonePadded(m, pairs, seqs);
    expect(Math.abs(swapped.batched[0]![0]! - batched[0]![0]!)).toBeGreaterThan(1e-4);
    expect(m.params.specs.get('classifier.head.fc1.weight')!.shape).toEqual([4 * D, D]);
    m.dispose();
  });

  it('gives every parameter a finite non-zero gradient and leaks no tensors', async () => {
    const m = model({ bidirectional: true, dual_tower: true, pooling: 'cls', dropout: 0.1 });
    const b = new PackedBuilder(8, true);
    b.push(seq(6), 2, seq(4));
    b.push(seq(3), 0, seq(8));
    const batch = padBatch(b.build(), [0, 1], { maxLen: 32, padMultiple: 4 });
    const vars = [...m.params.vars.values()];
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => {
      const s = m.supervised(batch, { training: true });
      expect([...s.targets]).toEqual([2, 0]);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(s.targets, 'int32'), 3), s.logits) as tf.Scalar;
    }, vars);
    expect(Number.isFinite((await value.data())[0]!)).toBe(true);
    for (const [name, g] of Object.entries(grads)) {
      const mx = tf.tidy(() => g.abs().max());
      const a = (await mx.data())[0]!;
      mx.dispose();
      expect(Number.isFinite(a), name).toBe(true);
      expect(a, name).toBeGreaterThan(0);
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    // Both directions have their own parameters.
    expect(m.params.specs.has('classifier.layers.0.token_mixer.fwd.q_proj.weight')).toBe(true);
    expect(m.params.specs.has('classifier.layers.0.token_mixer.bwd.q_proj.weight')).toBe(true);
    m.dispose();
  });

  it('config: CLS needs a bidirectional model; classes and vocabulary come from the task', () => {
    const bad = classifierSchema.safeParse({ d_model: 8, n_layers: 1, mixer: METALA, pooling: 'cls' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['pooling']);
    const cfg = classifierBackbone.resolve(classifierSchema.parse({ d_model: 8, n_layers: 1, mixer: METALA, pooling: 'cls', bidirectional: true }), { vocabSize: 16, seqLen: 2000, numClasses: 10 }) as { vocab_size: number; num_classes: number; max_seq_len: number };
    expect([cfg.vocab_size, cfg.num_classes, cfg.max_seq_len]).toEqual([16, 10, 2001]);
    expect(() => classifierBackbone.resolve(classifierSchema.parse({ d_model: 8, n_layers: 1, mixer: METALA }), { vocabSize: 16, seqLen: 8 })).toThrow(/needs a sequence-level task/);
  });
});
