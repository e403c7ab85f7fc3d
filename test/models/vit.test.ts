// The ViT backbone: patch order, output shapes with class-token and mean pooling, the parameter
// formula for every registered mixer, Tab. 6 parameter counts of the shipped ImageNet configs,
// whole-image visibility (causal with the class token last; bidirectional everywhere), gradients
// for every parameter and no tensor leaks.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { loadExperiment } from '../../src/config/load.js';
import { MIXERS } from '../../src/mixers/registry.js';
import { Params } from '../../src/layers/params.js';
import { patchify, VisionTransformer } from '../../src/models/vit.js';
import { PAPER_TAB6_PARAMS_M, vitParamCount, vitSchema, type VitConfig } from '../../src/models/vit_config.js';
import type { Batch } from '../../src/tasks/types.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const S = 8;
function config(over: Record<string, unknown> = {}): VitConfig {
  return vitSchema.parse({
    backbone: 'vit', d_model: 16, n_layers: 2, image_size: S, in_channels: 2, patch_size: 4, num_classes: 5,
    mixer: { name: 'metala', num_heads: 2 }, ...over,
  }) as VitConfig;
}
function batch(B: number, seed = 1): Batch {
  const px = tf.tidy(() => tf.randomNormal([B, S, S, 2], 0, 1, 'float32', seed).dataSync() as Float32Array);
  return { ids: new Int32Array(0), labels: Int32Array.from({ length: B }, (_, i) => i % 5), batch: B, seqLen: 1, pixels: px, imageShape: [S, S, 2] };
}

describe('patchify', () => {
  it('cuts P×P patches in raster order, each flattened as (row, column, channel)', async () => {
    const x = tf.tensor4d(Float32Array.from({ length: 4 * 4 * 2 }, (_, i) => i), [1, 4, 4, 2]);
    const p = patchify(x, 2);
    expect(p.shape).toEqual([1, 4, 8]);
    const v = (await p.array()) as number[][][];
    // Patch 0 = rows 0–1, columns 0–1; patch 1 = rows 0–1, columns 2–3; pixel (r, c, ch) = 8r + 2c + ch.
    expect(v[0]![0]).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
    expect(v[0]![1]).toEqual([4, 5, 6, 7, 12, 13, 14, 15]);
    expect(v[0]![3]).toEqual([20, 21, 22, 23, 28, 29, 30, 31]);
  });
});

describe('VisionTransformer', () => {
  it.each(['cls', 'mean'] as const)('%s pooling maps [B,S,S,C] to logits [B,K] without leaking tensors', (pool) => {
    const m = new VisionTransformer(config({ pool }), 0);
    const b = batch(3);
    const before = tf.memory().numTensors;
    const logits = tf.tidy(() => m.supervised(b).logits);
    expect(logits.shape).toEqual([3, 5]);
    logits.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(m.patches).toBe(4);
    m.dispose();
  });

  it.each(Object.keys(MIXERS))('allocates exactly the formula\'s parameters with mixer %s', (name) => {
    const cfg = config({ d_model: 32, n_layers: 1, mixer: { name } });
    const m = new VisionTransformer(cfg, 0);
    expect(m.params.count()).toBe(vitParamCount(cfg));
    m.dispose();
    const bi = config({ d_model: 32, n_layers: 1, mixer: { name }, bidirectional: true, bidirectional_combine: 'concat' });
    const mb = new VisionTransformer(bi, 0);
    expect(mb.params.count()).toBe(vitParamCount(bi));
    mb.dispose();
  });

  it('gives every parameter a finite, non-zero gradient (drop path on)', () => {
    const m = new VisionTransformer(config({ drop_path: 0.1 }), 0);
    const b = batch(4);
    const vars = [...m.params.vars.values()];
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(m.supervised(b, { training: true }).logits)) as tf.Scalar, vars);
    for (const [name, g] of Object.entries(grads)) {
      const a = g.abs();
      expect(Number.isFinite(a.max().dataSync()[0]!), name).toBe(true);
      expect(a.sum().dataSync()[0]!, name).toBeGreaterThan(0);
    }
    tf.dispose([value, ...Object.values(grads)]);
    m.dispose();
  });

  it('drop path with a step seed: the same seed draws the same samples, another seed others', async () => {
    const m = new VisionTransformer(config({ drop_path: 0.5, n_layers: 3 }), 0);
    const b = batch(8);
    const logits = async (seed: number): Promise<number[]> => {
      const l = tf.tidy(() => m.supervised(b, { training: true, dropoutSeed: Int32Array.of(seed) }).logits);
      const v = Array.from(await l.data());
      l.dispose();
      return v;
    };
    const [a, a2, c] = [await logits(1), await logits(1), await logits(2)];
    expect(a2).toEqual(a);
    expect(c).not.toEqual(a);
    m.dispose();
  });

  it('rejects images of the wrong size with a one-line fix', () => {
    const m = new VisionTransformer(config(), 0);
    expect(() => m.supervised({ ...batch(1), imageShape: [16, 16, 2] })).toThrow(/built for 8×8×2 images but the task gives 16×16×2\. Set model\.image_size: 16/);
    m.dispose();
  });
});

/** Larger-than-init weights everywhere, so that small paths are not hidden (as the mixer contract test does). */
function boosted(cfg: VitConfig): VisionTransformer {
  const m = new VisionTransformer(cfg, 0);
  tf.tidy(() => {
    for (const v of m.params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', 11)));
  });
  return m;
}

/** Logit change of image 0 when only the first patch (top-left) of its input changes. */
function firstPatchEffect(cfg: VitConfig): number {
  const m = boosted(cfg);
  const b = batch(1, 3);
  const moved = Float32Array.from(b.pixels!);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 2; c++) moved[(y * S + x) * 2 + c]! += 3;
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(m.supervised(b).logits, m.supervised({ ...b, pixels: moved }).logits))).dataSync()[0]!);
  m.dispose();
  return d;
}

describe('receptive field', () => {
  it('causal mixers see the whole image through the last-position class token and through mean pooling', () => {
    expect(firstPatchEffect(config({ pool: 'cls' }))).toBeGreaterThan(1e-3);
    expect(firstPatchEffect(config({ pool: 'mean' }))).toBeGreaterThan(1e-3);
  });
  it('a bidirectional mixer carries the last patch back to the first-position class token', () => {
    // One block, class token first: with a causal mixer it would read only itself.
    const bi = config({ n_layers: 1, pool: 'cls', bidirectional: true, mixer: { name: 'metala', num_heads: 2, conv_size: 0 } });
    const m = new VisionTransformer(bi, 0);
    expect(m.clsLast).toBe(false);
    m.dispose();
    const b = batch(1, 5);
    const moved = Float32Array.from(b.pixels!);
    for (let y = 4; y < 8; y++) for (let x = 4; x < 8; x++) moved[(y * S + x) * 2]! += 3;
    const m2 = boosted(bi);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(m2.supervised(b).logits, m2.supervised({ ...b, pixels: moved }).logits))).dataSync()[0]!);
    expect(d).toBeGreaterThan(1e-3);
    m2.dispose();
  });
});

describe('shipped ImageNet configs (MetaLA Tab. 6)', () => {
  const files = ['tiny', 'small'].flatMap((s) => Object.keys(PAPER_TAB6_PARAMS_M).map((m) => [s, m] as const));
  it.each(files)('deit-%s-%s resolves, and MetaLA/HGRN/DeiT land on the paper\'s parameter count', (size, mixer) => {
    const file = resolve('configs/imagenet', `deit-${size}-${mixer}.yaml`);
    expect(existsSync(file)).toBe(true);
    const run = loadExperiment(file).runs[0]!;
    const cfg = run.model as unknown as VitConfig;
    expect([cfg.d_model, cfg.n_layers, cfg.patch_size, cfg.image_size, cfg.num_classes]).toEqual([size === 'tiny' ? 192 : 384, 12, 16, 224, 1000]);
    expect(run.train.betas).toEqual([0.9, 0.98]);
    expect(run.train.lr).toBeCloseTo((2.4e-3 * run.train.batch_size) / 2048, 10);
    const millions = vitParamCount(cfg) / 1e6;
    const paper = (PAPER_TAB6_PARAMS_M[mixer] as Record<string, number>)[size]!;
    if (mixer === 'metala' || mixer === 'hgrn' || mixer === 'softmax') expect(Math.round(millions * 10) / 10).toBe(paper);
    else expect(Math.abs(millions - paper) / paper).toBeLessThan(0.35);
  });
});

describe('single-pass bidirectional softmax (DeiT attention)', () => {
  it('is permutation-equivariant and agrees with the causal form at the last query', () => {
    const def = MIXERS['softmax']!;
    const opts = def.options.parse({ num_heads: 2, rotary: false });
    const params = new Params(4);
    const ctx = { dModel: 16, layer: 0, nLayers: 1, params: params.scope('m'), maxSeqLen: 8 };
    const full = def.createNonCausal!(opts as never, ctx);
    const causal = def.create(opts as never, ctx); // same scope: the same q/k/v/out weights
    expect(params.count()).toBe(def.paramCount(opts as never, 16));
    tf.tidy(() => {
      const x = tf.randomNormal([2, 6, 16], 0, 1, 'float32', 9) as tf.Tensor3D;
      const perm = tf.tensor1d([3, 0, 5, 1, 4, 2], 'int32');
      const y = full.forward(x).y;
      // No mask and no positions: permuting the tokens permutes the outputs.
      const yPerm = full.forward(tf.gather(x, perm, 1) as tf.Tensor3D).y;
      expect(tf.max(tf.abs(tf.sub(yPerm, tf.gather(y, perm, 1)))).dataSync()[0]).toBeLessThan(1e-5);
      // The last query sees every key in both forms; the first sees all keys only without the mask.
      const yc = causal.forward(x).y;
      const last = (t: tf.Tensor3D, i: number) => tf.slice(t, [0, i, 0], [2, 1, 16]);
      expect(tf.max(tf.abs(tf.sub(last(y, 5), last(yc, 5)))).dataSync()[0]).toBeLessThan(1e-5);
      expect(tf.max(tf.abs(tf.sub(last(y, 0), last(yc, 0)))).dataSync()[0]).toBeGreaterThan(1e-3);
    });
    expect(() => full.forward(tf.zeros([1, 2, 16]) as tf.Tensor3D, { wantState: true })).toThrow(/non-causal form has no decoding state/);
    params.dispose();
  });

  it('allocates one mixer per block (4d², no combine) and carries the last patch to a first class token', () => {
    const one = config({ d_model: 32, n_layers: 1, pool: 'cls', bidirectional: true, bidirectional_form: 'single_pass', mixer: { name: 'softmax', num_heads: 2, rotary: false } });
    const two = config({ ...one, bidirectional_form: 'two_pass' });
    const m = new VisionTransformer(one, 0);
    expect(m.params.count()).toBe(vitParamCount(one));
    expect(vitParamCount(two) - vitParamCount(one)).toBe(4 * 32 * 32);
    expect(m.clsLast).toBe(false);
    m.dispose();
    const m2 = boosted(config({ ...one, d_model: 16 }));
    const b = batch(1, 5);
    const moved = Float32Array.from(b.pixels!);
    for (let y = 4; y < 8; y++) for (let x = 4; x < 8; x++) moved[(y * S + x) * 2]! += 3;
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(m2.supervised(b).logits, m2.supervised({ ...b, pixels: moved }).logits))).dataSync()[0]!);
    expect(d).toBeGreaterThan(1e-3);
    m2.dispose();
  });

  it('is refused without bidirectional, and for a mixer without a non-causal form', () => {
    expect(() => config({ bidirectional_form: 'single_pass', mixer: { name: 'softmax' } })).toThrow(/single_pass is a bidirectional form: set bidirectional: true/);
    // The message lists the registry's mixers that have a non-causal form.
    const nonCausal = Object.values(MIXERS).filter((m) => m.createNonCausal !== undefined).map((m) => m.name);
    expect(nonCausal).toEqual(expect.arrayContaining(['softmax', 'zeros', 'qt_vit', 'inline']));
    expect(() => config({ bidirectional: true, bidirectional_form: 'single_pass' })).toThrow(`only a mixer with a non-causal form (${nonCausal.join(', ')}) runs single_pass; use two_pass`);
  });
});
