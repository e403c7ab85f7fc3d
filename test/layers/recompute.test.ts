// Activation recomputation (train.recompute): the gradients of every parameter equal those of the
// plain backward pass for the LM, the bidirectional LRA classifier and the ViT; nothing leaks; the
// block intermediates are really freed (fewer live tensors at the end of the forward pass); and a
// random block (dropout / drop-path) is refused instead of silently getting wrong gradients.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { recompute } from '../../src/layers/recompute.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { SequenceClassifier } from '../../src/models/classifier.js';
import { classifierBackbone } from '../../src/models/classifier_backbone.js';
import { classifierSchema, type ClassifierConfig } from '../../src/models/classifier_config.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { vitSchema, type VitConfig } from '../../src/models/vit_config.js';
import type { TrainableModel } from '../../src/models/types.js';
import type { Batch } from '../../src/tasks/types.js';
import { trainSchema } from '../../src/config/train_schema.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const METALA = { name: 'metala', num_heads: 2, key_dim_ratio: 1, conv_size: 2 };

/** Perturb every weight so zero-initialised gains or biases cannot hide a missing gradient path. */
function perturb(m: TrainableModel, seed: number): void {
  tf.tidy(() => {
    for (const v of m.params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', seed)));
  });
}

/** Loss gradients of every parameter, with and without recomputation. */
function gradsOf(m: TrainableModel, b: Batch, recomputeBlocks: boolean): Map<string, Float32Array> {
  const vars = [...m.params.vars.values()];
  const { value, grads } = tf.variableGrads(() => {
    const s = m.supervised(b, { training: true, recompute: recomputeBlocks });
    if (s.kind !== undefined) throw new Error('these small models classify with whole logits');
    // A loss that weighs every logit differently (a plain mean would hide permutation errors).
    const w = tf.range(1, s.logits.size + 1).reshape(s.logits.shape).div(s.logits.size);
    return tf.sum(tf.mul(tf.square(s.logits), w)) as tf.Scalar;
  }, vars);
  const out = new Map<string, Float32Array>();
  for (const [vn, g] of Object.entries(grads)) out.set(m.params.byVarName.get(vn)!, g.dataSync() as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

function expectSameGrads(m: TrainableModel, b: Batch): void {
  const plain = gradsOf(m, b, false);
  const n0 = tf.memory().numTensors;
  const re = gradsOf(m, b, true);
  expect(tf.memory().numTensors).toBe(n0);
  expect([...re.keys()].sort()).toEqual([...plain.keys()].sort());
  let nonZero = 0;
  for (const [name, g] of plain) {
    const r = re.get(name)!;
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < g.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(g[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(g[i]! - r[i]!));
    }
    if (maxAbs > 0) nonZero++;
    expect(maxDiff, name).toBeLessThanOrEqual(1e-6 * Math.max(1, maxAbs));
  }
  expect(nonZero).toBeGreaterThan(plain.size / 2);
}

function lmBatch(B: number, T: number, V: number): Batch {
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V);
  const labels = Int32Array.from({ length: B * T }, (_, i) => (i % 3 === 0 ? (i * 5) % V : -100));
  return { ids, labels, batch: B, seqLen: T };
}

describe('recompute', () => {
  it('gives the gradients of the plain backward pass for a single op chain, inputs and variables alike', () => {
    const w = tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]), true, 'recompute-test-w');
    const x0 = tf.tensor2d([[1, 2], [3, -4]]);
    const f = (x: tf.Tensor): tf.Tensor2D => tf.tanh(tf.matMul(tf.sin(x as tf.Tensor2D), w as tf.Tensor2D)) as tf.Tensor2D;
    const plain = tf.grads((x: tf.Tensor) => tf.sum(tf.square(f(x))))([x0]);
    const re = tf.grads((x: tf.Tensor) => tf.sum(tf.square(recompute(f, [x], [w]))))([x0]);
    expect(Array.from(re[0]!.dataSync())).toEqual(Array.from(plain[0]!.dataSync()));
    const gw = tf.variableGrads(() => tf.sum(tf.square(f(x0))) as tf.Scalar, [w]).grads;
    const gwRe = tf.variableGrads(() => tf.sum(tf.square(recompute(f, [x0], [w]))) as tf.Scalar, [w]).grads;
    expect(Array.from(gwRe[w.name]!.dataSync())).toEqual(Array.from(gw[w.name]!.dataSync()));
    tf.dispose([w, x0, ...plain, ...re, ...Object.values(gw), ...Object.values(gwRe)]);
  });

  it('frees the block intermediates after the forward pass', () => {
    const w = tf.variable(tf.randomNormal([8, 8], 0, 1, 'float32', 3), true, 'recompute-test-w2');
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 4);
    const chain = (t: tf.Tensor): tf.Tensor2D => {
      let h = t as tf.Tensor2D;
      for (let i = 0; i < 10; i++) h = tf.relu(tf.matMul(h, w as tf.Tensor2D)) as tf.Tensor2D;
      return h;
    };
    const liveAfterForward = (useRecompute: boolean): number => {
      let live = 0;
      const r = tf.variableGrads(() => {
        const y = useRecompute ? recompute(chain, [x], [w]) : chain(x);
        live = tf.memory().numTensors;
        return tf.sum(y) as tf.Scalar;
      }, [w]);
      tf.dispose([r.value, ...Object.values(r.grads)]);
      return live;
    };
    // Plain: the 20 intermediates of the chain are alive when the forward ends; recomputed: none.
    expect(liveAfterForward(false) - liveAfterForward(true)).toBeGreaterThanOrEqual(18);
    tf.dispose([w, x]);
  });

  it('LM (MetaLA blocks): same parameter gradients as the plain backward pass, no leak', () => {
    const cfg = lmSchema.parse({ d_model: 16, n_layers: 2, vocab_size: 24, mixer: METALA, channel_mixer: { name: 'glu' }, max_seq_len: 12 });
    const m = new CausalLM(cfg as LmConfig, 1);
    perturb(m, 2);
    expectSameGrads(m, lmBatch(2, 12, 24));
    m.dispose();
  });

  it('bidirectional LRA classifier with padding: same parameter gradients, no leak', () => {
    const parsed = classifierSchema.parse({ d_model: 16, n_layers: 2, mixer: METALA, channel_mixer: { name: 'glu', hidden: 24 }, bidirectional: true, pooling: 'mean' });
    const cfg = classifierBackbone.resolve(parsed, { vocabSize: 20, seqLen: 10, numClasses: 3 }) as ClassifierConfig;
    const m = new SequenceClassifier(cfg, 1);
    perturb(m, 3);
    const B = 3;
    const T = 10;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 3 + 1) % 20);
    expectSameGrads(m, { ids, labels: Int32Array.from([0, 2, 1]), batch: B, seqLen: T, lengths: Int32Array.from([10, 6, 3]) });
    m.dispose();
  });

  it('ViT (bidirectional MetaLA): same parameter gradients, no leak', () => {
    const cfg = vitSchema.parse({
      backbone: 'vit', d_model: 16, n_layers: 2, image_size: 8, in_channels: 2, patch_size: 4, num_classes: 5, mixer: { name: 'metala', num_heads: 2 },
    }) as VitConfig;
    const m = new VisionTransformer(cfg, 1);
    perturb(m, 4);
    const px = tf.tidy(() => tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 5).dataSync() as Float32Array);
    expectSameGrads(m, { ids: new Int32Array(0), labels: Int32Array.from([1, 4]), batch: 2, seqLen: 1, pixels: px, imageShape: [8, 8, 2] });
    m.dispose();
  });

  it('refuses a block with dropout or drop-path, and is optional in the train config', () => {
    const parsed = classifierSchema.parse({ d_model: 16, n_layers: 1, mixer: METALA, dropout: 0.1 });
    const cfg = classifierBackbone.resolve(parsed, { vocabSize: 20, seqLen: 4, numClasses: 2 }) as ClassifierConfig;
    const m = new SequenceClassifier(cfg, 1);
    const b: Batch = { ids: new Int32Array(8), labels: Int32Array.from([0, 1]), batch: 2, seqLen: 4 };
    expect(() => tf.tidy(() => m.supervised(b, { training: true, recompute: true }).logits)).toThrow(/train\.recompute .* needs model\.dropout 0 \(got 0\.1\)/);
    // Evaluation never recomputes, so dropout there is fine.
    expect(tf.tidy(() => m.supervised(b, { training: false, recompute: true }).logits.shape)).toEqual([2, 2]);
    m.dispose();
    const vcfg = vitSchema.parse({ backbone: 'vit', d_model: 16, n_layers: 1, image_size: 8, in_channels: 1, patch_size: 4, num_classes: 2, mixer: { name: 'metala', num_heads: 2 }, drop_path: 0.1 }) as VitConfig;
    const v = new VisionTransformer(vcfg, 1);
    const px = new Float32Array(2 * 64);
    expect(() => tf.tidy(() => v.supervised({ ids: new Int32Array(0), labels: Int32Array.from([0, 1]), batch: 2, seqLen: 1, pixels: px, imageShape: [8, 8, 1] }, { training: true, recompute: true }).logits)).toThrow(/needs model\.drop_path 0/);
    v.dispose();
    const t = trainSchema.parse({ batch_size: 2, max_steps: 1, lr: 1e-3 });
    expect(t.recompute).toBeUndefined();
    expect(() => trainSchema.parse({ batch_size: 2, max_steps: 1, lr: 1e-3, recompute: 'yes' })).toThrow();
  });
});
