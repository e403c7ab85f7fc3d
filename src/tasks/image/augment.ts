// The per-image transform of the DeiT recipe without Mixup/CutMix (paper-metala.md §5.5; timm
// `data/transforms_factory.py::transforms_imagenet_train/_eval`): train = RandomResizedCrop(S,
// scale (0.08, 1), ratio (3/4, 4/3)) → flip → [ColorJitter] → [RandAugment] → normalise →
// [RandomErasing]; eval = resize the short side to S/0.875 → centre crop S → normalise.
// `pad` mode (MNIST): centre the image on an S×S canvas instead of cropping. Seeded per image.
// Porting note: DeiT resamples bicubically; we use PIL-style antialiased bilinear (triangle filter).
import { Rng } from '../../util/rng.js';
import type { RawImage } from './decode.js';
import { colorJitter, randAugment, type RandAugmentSpec } from './randaugment.js';

/** Everything the transform needs; plain data so it can be sent to decode workers. */
export interface ImageSpec {
  /** Output side S. */
  size: number;
  /** Output channels (1 or 3). */
  channels: number;
  /** `crop`: RandomResizedCrop / centre crop; `pad`: centre on a canvas (shrinking if larger). */
  resize: 'crop' | 'pad';
  mean: number[];
  std: number[];
  crop_scale: [number, number];
  crop_ratio: [number, number];
  /** Eval: centre crop of S from the short side resized to S / eval_crop (timm crop_pct 0.875). */
  eval_crop: number;
  hflip: number;
  color_jitter: number;
  rand_augment: RandAugmentSpec | null;
  random_erase: number;
}

/**
 * Resample the source region (x0, y0, w, h) (pixels, fractional allowed) to outW × outH with a
 * triangle filter whose support widens when shrinking (PIL's antialiased bilinear), separably.
 */
export function resampleRegion(img: RawImage, x0: number, y0: number, w: number, h: number, outW: number, outH: number): RawImage {
  const C = img.channels;
  const cx = filterTaps(x0, w, outW, img.width);
  const cy = filterTaps(y0, h, outH, img.height);
  let rowLo = img.height;
  let rowHi = 0;
  for (let o = 0; o < outH; o++) {
    rowLo = Math.min(rowLo, cy.first[o]!);
    rowHi = Math.max(rowHi, cy.first[o]! + cy.count[o]! - 1);
  }
  // Horizontal pass over the rows the vertical pass reads: [rowHi − rowLo + 1, outW, C] floats.
  const src = img.data;
  const rowLen = outW * C;
  const tmp = new Float32Array((rowHi - rowLo + 1) * rowLen);
  for (let y = rowLo; y <= rowHi; y++) {
    const inRow = y * img.width * C;
    const outRow = (y - rowLo) * rowLen;
    for (let x = 0; x < outW; x++) {
      const f = cx.first[x]!;
      const n = cx.count[x]!;
      const wb = x * cx.stride;
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += cx.weights[wb + k]! * src[inRow + (f + k) * C + c]!;
        tmp[outRow + x * C + c] = s;
      }
    }
  }
  const out = new Uint8Array(outH * rowLen);
  for (let y = 0; y < outH; y++) {
    const f = cy.first[y]! - rowLo;
    const n = cy.count[y]!;
    const wb = y * cy.stride;
    for (let i = 0; i < rowLen; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += cy.weights[wb + k]! * tmp[(f + k) * rowLen + i]!;
      out[y * rowLen + i] = s <= 0 ? 0 : s >= 255 ? 255 : Math.round(s);
    }
  }
  return { data: out, width: outW, height: outH, channels: C };
}

/** Per output pixel: first source index, tap count and normalised weights (stride = max taps). */
function filterTaps(start: number, len: number, n: number, limit: number): { first: Int32Array; count: Int32Array; weights: Float32Array; stride: number } {
  const scale = len / n;
  const support = Math.max(1, scale);
  const stride = Math.ceil(2 * support) + 2;
  const first = new Int32Array(n);
  const count = new Int32Array(n);
  const weights = new Float32Array(n * stride);
  for (let o = 0; o < n; o++) {
    const centre = start + (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(limit - 1, Math.ceil(centre + support), lo + stride - 1);
    let sum = 0;
    for (let i = lo; i <= hi; i++) {
      const wt = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      weights[o * stride + i - lo] = wt;
      sum += wt;
    }
    if (sum === 0) {
      // A region narrower than one pixel at the border: the nearest pixel.
      first[o] = Math.min(limit - 1, Math.max(0, Math.floor(centre)));
      count[o] = 1;
      weights[o * stride] = 1;
      continue;
    }
    first[o] = lo;
    count[o] = hi - lo + 1;
    for (let k = 0; k < count[o]!; k++) weights[o * stride + k]! /= sum;
  }
  return { first, count, weights, stride };
}

/** torchvision RandomResizedCrop.get_params: (x, y, w, h) of the crop. */
export function randomResizedCropBox(W: number, H: number, scale: [number, number], ratio: [number, number], rng: Rng): [number, number, number, number] {
  const area = W * H;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.next());
    const aspect = Math.exp(lr0 + (lr1 - lr0) * rng.next());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= W && h <= H) return [rng.int(0, W - w + 1), rng.int(0, H - h + 1), w, h];
  }
  // Fallback: the whole image, clamped to the ratio range, centred.
  const r = W / H;
  const [w, h] = r < ratio[0] ? [W, Math.round(W / ratio[0])] : r > ratio[1] ? [Math.round(H * ratio[1]), H] : [W, H];
  return [Math.floor((W - w) / 2), Math.floor((H - h) / 2), w, h];
}

/** Eval crop: square of side S·short/⌊S/crop⌋ in source pixels, centred. */
export function centreCropBox(W: number, H: number, S: number, crop: number): [number, number, number, number] {
  const side = (S * Math.min(W, H)) / Math.floor(S / crop);
  return [(W - side) / 2, (H - side) / 2, side, side];
}

/** Centre img on an S×S canvas of `fill` (shrunk to fit first when larger). */
export function padToSquare(img: RawImage, S: number, fill: readonly number[]): RawImage {
  let src = img;
  if (img.width > S || img.height > S) {
    const f = S / Math.max(img.width, img.height);
    src = resampleRegion(img, 0, 0, img.width, img.height, Math.max(1, Math.round(img.width * f)), Math.max(1, Math.round(img.height * f)));
  }
  const C = img.channels;
  const out = new Uint8Array(S * S * C);
  for (let i = 0; i < S * S; i++) for (let c = 0; c < C; c++) out[i * C + c] = fill[c] ?? 0;
  const ox = Math.floor((S - src.width) / 2);
  const oy = Math.floor((S - src.height) / 2);
  for (let y = 0; y < src.height; y++) out.set(src.data.subarray(y * src.width * C, (y + 1) * src.width * C), ((oy + y) * S + ox) * C);
  return { data: out, width: S, height: S, channels: C };
}

export function hflip(img: RawImage): RawImage {
  const { width: W, height: H, channels: C } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = img.data[(y * W + W - 1 - x) * C + c]!;
  return { ...img, data: out };
}

/** timm RandomErasing(mode 'pixel', one box): area U(0.02, 1/3), log-aspect U(log 0.3, log 1/0.3), N(0,1) fill. */
export function randomErase(x: Float32Array, S: number, C: number, rng: Rng): void {
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = S * S * (0.02 + (1 / 3 - 0.02) * rng.next());
    const aspect = Math.exp(Math.log(0.3) + (Math.log(1 / 0.3) - Math.log(0.3)) * rng.next());
    const h = Math.round(Math.sqrt(target * aspect));
    const w = Math.round(Math.sqrt(target / aspect));
    if (w < S && h < S) {
      const top = rng.int(0, S - h + 1);
      const left = rng.int(0, S - w + 1);
      for (let y = top; y < top + h; y++) for (let i = (y * S + left) * C; i < (y * S + left + w) * C; i++) x[i] = rng.normal();
      return;
    }
  }
}

/** Background of pad mode and geometric ops: the data set mean in 8-bit (timm's img_mean fill). */
export function fillColour(spec: ImageSpec): number[] {
  return spec.mean.map((m) => Math.round(255 * m));
}

/**
 * One image (already at spec.channels) → normalised float pixels [S, S, C].
 * @param seed per-image seed: the same (image, seed, training) always gives the same pixels
 */
export function transformImage(img: RawImage, spec: ImageSpec, training: boolean, seed: number): Float32Array {
  const rng = new Rng(seed);
  const S = spec.size;
  const fill = fillColour(spec);
  let im: RawImage;
  // Pad with 0 like torchvision's Pad (MNIST's background is black).
  if (spec.resize === 'pad') im = padToSquare(img, S, fill.map(() => 0));
  else {
    const [x, y, w, h] = training ? randomResizedCropBox(img.width, img.height, spec.crop_scale, spec.crop_ratio, rng) : centreCropBox(img.width, img.height, S, spec.eval_crop);
    im = resampleRegion(img, x, y, w, h, S, S);
  }
  if (training) {
    if (spec.hflip > 0 && rng.next() < spec.hflip) im = hflip(im);
    if (spec.color_jitter > 0) im = colorJitter(im, spec.color_jitter, rng);
    if (spec.rand_augment !== null) im = randAugment(im, spec.rand_augment, rng, fill);
  }
  const C = spec.channels;
  const out = new Float32Array(S * S * C);
  const scale = spec.std.map((s) => 1 / (255 * s));
  const shift = spec.mean.map((m, c) => m / spec.std[c]!);
  for (let i = 0; i < out.length; i++) {
    const c = i % C;
    out[i] = im.data[i]! * scale[c]! - shift[c]!;
  }
  if (training && spec.random_erase > 0 && rng.next() < spec.random_erase) randomErase(out, S, C, rng);
  return out;
}
