// The per-image transform: output shapes for crop and pad modes, determinism under a seed, the
// eval path's independence from the seed, the crop box bounds, resampling and RandAugment ops
// keeping shape, and normalisation values.
import { describe, expect, it } from 'vitest';
import { centreCropBox, hflip, padToSquare, randomResizedCropBox, resampleRegion, transformImage, type ImageSpec } from '../../../src/tasks/image/augment.js';
import { decodeJpeg, toChannels, type RawImage } from '../../../src/tasks/image/decode.js';
import { RAND_OPS, randAugment } from '../../../src/tasks/image/randaugment.js';
import { imageOptions, imageSpec } from '../../../src/tasks/image/options.js';
import { Rng } from '../../../src/util/rng.js';
import { makeJpeg } from './fixtures.js';

const img: RawImage = decodeJpeg(makeJpeg(1, 3, 48, 36));
const deit: ImageSpec = imageSpec(imageOptions.parse({ dataset: 'imagefolder', root: '/x', image_size: 24 }));

describe('DeiT spec defaults', () => {
  it('RandAugment m9 mstd0.5 with 2 ops, flip 0.5, erase 0.25, crop 0.875, ImageNet mean/std', () => {
    expect(deit.rand_augment).toEqual({ num_ops: 2, magnitude: 9, magnitude_std: 0.5, prob: 0.5 });
    expect([deit.hflip, deit.random_erase, deit.eval_crop, deit.color_jitter]).toEqual([0.5, 0.25, 0.875, 0]);
    expect(deit.crop_scale).toEqual([0.08, 1]);
    expect(deit.mean).toEqual([0.485, 0.456, 0.406]);
    const mnist = imageSpec(imageOptions.parse({}));
    expect([mnist.size, mnist.channels, mnist.resize, mnist.rand_augment, mnist.hflip]).toEqual([32, 1, 'pad', null, 0]);
  });
});

describe('transformImage', () => {
  it('gives [S, S, C] floats in train and eval, for 3 and 1 channels', () => {
    expect(transformImage(img, deit, true, 1)).toHaveLength(24 * 24 * 3);
    expect(transformImage(img, deit, false, 1)).toHaveLength(24 * 24 * 3);
    const grey = { ...deit, channels: 1, mean: [0.5], std: [0.25] };
    expect(transformImage(toChannels(img, 1), grey, true, 1)).toHaveLength(24 * 24);
  });
  it('is deterministic under a seed; seeds differ; eval ignores the seed', () => {
    const a = transformImage(img, deit, true, 42);
    expect(transformImage(img, deit, true, 42)).toEqual(a);
    const others = [43, 44, 45].map((s) => transformImage(img, deit, true, s));
    for (const o of others) expect(o).not.toEqual(a);
    expect(transformImage(img, deit, false, 1)).toEqual(transformImage(img, deit, false, 999));
    for (const v of a) expect(Number.isFinite(v)).toBe(true);
  });
  it('normalises (v/255 − mean)/std, and pad mode centres the image on a zero canvas', () => {
    const flat: RawImage = { data: new Uint8Array(28 * 28).fill(255), width: 28, height: 28, channels: 1 };
    const spec = imageSpec(imageOptions.parse({}));
    const x = transformImage(flat, spec, false, 0);
    const [m, s] = [spec.mean[0]!, spec.std[0]!];
    expect(x[0]).toBeCloseTo((0 - m) / s, 5);
    expect(x[2 * 32 + 2]).toBeCloseTo((1 - m) / s, 5);
    expect(x[29 * 32 + 29]).toBeCloseTo((1 - m) / s, 5);
    expect(x[30 * 32 + 30]).toBeCloseTo((0 - m) / s, 5);
  });
});

describe('geometry', () => {
  it('RandomResizedCrop boxes lie inside the image with the area and ratio asked for', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 200; i++) {
      const [x, y, w, h] = randomResizedCropBox(48, 36, [0.08, 1], [3 / 4, 4 / 3], rng);
      expect(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 48 && y + h <= 36).toBe(true);
    }
    // Short side → 256, centre 224: at 320×256 that is 224 source pixels, at 640×512 it is 448.
    expect(centreCropBox(320, 256, 224, 0.875)).toEqual([48, 16, 224, 224]);
    expect(centreCropBox(640, 512, 224, 0.875)).toEqual([96, 32, 448, 448]);
  });
  it('halving a ramp with the widened triangle filter averages taps (1, 3, 3, 1)/8 inside the image', () => {
    const ramp: RawImage = { data: Uint8Array.from({ length: 16 }, (_, x) => 10 * x), width: 16, height: 1, channels: 1 };
    const out = resampleRegion(ramp, 0, 0, 16, 1, 8, 1);
    expect([...out.data.subarray(1, 7)]).toEqual([25, 45, 65, 85, 105, 125]);
    expect(out.data[0]).toBe(Math.round((10 * 0.375 + 20 * 0.125) / 0.875));
  });
  it('resampling keeps a constant image constant; flip is an involution; padding keeps a small image intact', () => {
    const c: RawImage = { data: new Uint8Array(30 * 20 * 3).fill(77), width: 30, height: 20, channels: 3 };
    expect([...new Set(resampleRegion(c, 3.5, 2.25, 20, 15, 7, 9).data)]).toEqual([77]);
    expect(hflip(hflip(img))).toEqual(img);
    const p = padToSquare(img, 64, [0, 0, 0]);
    expect([p.width, p.height]).toEqual([64, 64]);
    expect(p.data[((14 + 5) * 64 + 8 + 7) * 3]).toBe(img.data[(5 * 48 + 7) * 3]);
  });
  it('every RandAugment op keeps the image shape and 8-bit range; randAugment is seeded', () => {
    const small = resampleRegion(img, 0, 0, 48, 36, 16, 12);
    for (const [name, op] of Object.entries(RAND_OPS)) {
      const out = op(small, 9, new Rng(1), [124, 116, 104]);
      expect([out.width, out.height, out.channels, out.data.length], name).toEqual([16, 12, 3, small.data.length]);
    }
    const s = { num_ops: 2, magnitude: 9, magnitude_std: 0.5, prob: 1 };
    expect(randAugment(small, s, new Rng(7), [0, 0, 0])).toEqual(randAugment(small, s, new Rng(7), [0, 0, 0]));
  });
});
