// RandAugment (Cubuk et al. 2020) as DeiT uses it through timm: `rand-m9-mstd0.5-inc1` = 2 ops
// drawn with replacement from the 15 "increasing" ops, each applied with p 0.5 at magnitude
// N(9, 0.5) clipped to [0, 10]. Follows timm `data/auto_augment.py` (level → argument maps) and
// PIL's ImageOps / ImageEnhance on 8-bit HWC images. Also torchvision's ColorJitter (b, c, s).
// Porting note: geometric ops sample bilinearly (timm: bilinear or bicubic); blends round instead of
// truncating, so outputs are close to, not bit-equal with, PIL's.
import type { Rng } from '../../util/rng.js';
import type { RawImage } from './decode.js';

export interface RandAugmentSpec {
  num_ops: number;
  magnitude: number;
  magnitude_std: number;
  /** Probability that each drawn op is applied (timm: 0.5). */
  prob: number;
}

const clamp8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
const map = (img: RawImage, f: (v: number, c: number) => number): RawImage => {
  const out = new Uint8Array(img.data.length);
  const C = img.channels;
  for (let i = 0; i < out.length; i++) out[i] = clamp8(f(img.data[i]!, i % C));
  return { ...img, data: out };
};

/** Grey level of each pixel (ITU-R 601, PIL's convert('L')). */
function luma(img: RawImage): Float32Array {
  const n = img.width * img.height;
  const C = img.channels;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = C === 1 ? img.data[i]! : (299 * img.data[C * i]! + 587 * img.data[C * i + 1]! + 114 * img.data[C * i + 2]!) / 1000;
  return out;
}

/** PIL Image.blend(degenerate, img, f) = degenerate + f·(img − degenerate). */
function blend(img: RawImage, degenerate: (i: number) => number, f: number): RawImage {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const d = degenerate(i);
    out[i] = clamp8(d + f * (img.data[i]! - d));
  }
  return { ...img, data: out };
}

export const brightness = (img: RawImage, f: number): RawImage => blend(img, () => 0, f);

export function contrast(img: RawImage, f: number): RawImage {
  const l = luma(img);
  let s = 0;
  for (const v of l) s += v;
  const mean = Math.floor(s / l.length + 0.5);
  return blend(img, () => mean, f);
}

/** Saturation (PIL ImageEnhance.Color): blend with the grey image. */
export function saturation(img: RawImage, f: number): RawImage {
  const l = luma(img);
  return blend(img, (i) => Math.round(l[Math.floor(i / img.channels)]!), f);
}

/** PIL ImageEnhance.Sharpness: blend with the SMOOTH-filtered image (borders unfiltered). */
export function sharpness(img: RawImage, f: number): RawImage {
  const { width: W, height: H, channels: C, data } = img;
  const smooth = Float32Array.from(data);
  for (let y = 1; y < H - 1; y++) {
    for (let x = 1; x < W - 1; x++) {
      for (let c = 0; c < C; c++) {
        let s = 4 * data[(y * W + x) * C + c]!;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += data[((y + dy) * W + x + dx) * C + c]!;
        smooth[(y * W + x) * C + c] = Math.round(s / 13);
      }
    }
  }
  return blend(img, (i) => smooth[i]!, f);
}

export function autoContrast(img: RawImage): RawImage {
  const C = img.channels;
  const lo = new Array<number>(C).fill(255);
  const hi = new Array<number>(C).fill(0);
  for (let i = 0; i < img.data.length; i++) {
    const c = i % C;
    lo[c] = Math.min(lo[c]!, img.data[i]!);
    hi[c] = Math.max(hi[c]!, img.data[i]!);
  }
  return map(img, (v, c) => (hi[c]! > lo[c]! ? ((v - lo[c]!) * 255) / (hi[c]! - lo[c]!) : v));
}

/** PIL ImageOps.equalize: per-channel histogram equalisation. */
export function equalize(img: RawImage): RawImage {
  const C = img.channels;
  const luts: Uint8Array[] = [];
  for (let c = 0; c < C; c++) {
    const h = new Array<number>(256).fill(0);
    for (let i = c; i < img.data.length; i += C) h[img.data[i]!]!++;
    const nz = h.filter((v) => v > 0);
    const lut = Uint8Array.from({ length: 256 }, (_, i) => i);
    const step = nz.length <= 1 ? 0 : Math.floor((nz.reduce((a, b) => a + b, 0) - nz[nz.length - 1]!) / 255);
    if (step > 0) {
      let n = Math.floor(step / 2);
      for (let i = 0; i < 256; i++) {
        lut[i] = Math.min(255, Math.floor(n / step));
        n += h[i]!;
      }
    }
    luts.push(lut);
  }
  return map(img, (v, c) => luts[c]![v]!);
}

/**
 * Affine warp by inverse map: output (x, y) reads input (a·x + b·y + c, d·x + e·y + f) (PIL's
 * Image.transform convention), bilinear, `fill` outside the image.
 */
export function affine(img: RawImage, m: readonly [number, number, number, number, number, number], fill: readonly number[]): RawImage {
  const { width: W, height: H, channels: C, data } = img;
  const out = new Uint8Array(data.length);
  const [a, b, c0, d, e, f0] = m;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Pixel centres: PIL samples at (x + 0.5, y + 0.5).
      const sx = a * (x + 0.5) + b * (y + 0.5) + c0 - 0.5;
      const sy = d * (x + 0.5) + e * (y + 0.5) + f0 - 0.5;
      const o = (y * W + x) * C;
      if (sx < -0.5 || sy < -0.5 || sx > W - 0.5 || sy > H - 0.5) {
        for (let ch = 0; ch < C; ch++) out[o + ch] = fill[ch] ?? 0;
        continue;
      }
      const x0 = Math.max(0, Math.min(W - 1, Math.floor(sx)));
      const y0 = Math.max(0, Math.min(H - 1, Math.floor(sy)));
      const x1 = Math.min(W - 1, x0 + 1);
      const y1 = Math.min(H - 1, y0 + 1);
      const fx = Math.max(0, Math.min(1, sx - x0));
      const fy = Math.max(0, Math.min(1, sy - y0));
      for (let ch = 0; ch < C; ch++) {
        const p = (yy: number, xx: number) => data[(yy * W + xx) * C + ch]!;
        const top = p(y0, x0) + fx * (p(y0, x1) - p(y0, x0));
        const bot = p(y1, x0) + fx * (p(y1, x1) - p(y1, x0));
        out[o + ch] = clamp8(top + fy * (bot - top));
      }
    }
  }
  return { ...img, data: out };
}

/** Counter-clockwise rotation by deg about the centre (PIL Image.rotate). */
function rotate(img: RawImage, deg: number, fill: readonly number[]): RawImage {
  const t = (-deg * Math.PI) / 180;
  const cx = img.width / 2;
  const cy = img.height / 2;
  const [co, si] = [Math.cos(t), Math.sin(t)];
  // PIL: matrix (cos t, sin t, ·, −sin t, cos t, ·) with t = −deg, about the centre.
  return affine(img, [co, si, cx - co * cx - si * cy, -si, co, cy + si * cx - co * cy], fill);
}

type Op = (img: RawImage, level: number, rng: Rng, fill: readonly number[]) => RawImage;
const signed = (v: number, rng: Rng): number => (rng.next() < 0.5 ? -v : v);
const enhance = (f: (img: RawImage, x: number) => RawImage): Op => (img, l, rng) => f(img, 1 + signed((l / 10) * 0.9, rng));

/** timm's _RAND_INCREASING_TRANSFORMS, level ∈ [0, 10] mapped as in timm's *_level_to_arg. */
export const RAND_OPS: Readonly<Record<string, Op>> = {
  AutoContrast: (img) => autoContrast(img),
  Equalize: (img) => equalize(img),
  Invert: (img) => map(img, (v) => 255 - v),
  Rotate: (img, l, rng, fill) => rotate(img, signed((l / 10) * 30, rng), fill),
  PosterizeIncreasing: (img, l) => {
    const bits = 4 - Math.floor((l / 10) * 4);
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    return map(img, (v) => v & mask);
  },
  SolarizeIncreasing: (img, l) => {
    const thr = 256 - Math.floor((l / 10) * 256);
    return map(img, (v) => (v >= thr ? 255 - v : v));
  },
  SolarizeAdd: (img, l) => {
    const add = Math.floor((l / 10) * 110);
    return map(img, (v) => (v < 128 ? Math.min(255, v + add) : v));
  },
  ColorIncreasing: enhance(saturation),
  ContrastIncreasing: enhance(contrast),
  BrightnessIncreasing: enhance(brightness),
  SharpnessIncreasing: enhance(sharpness),
  ShearX: (img, l, rng, fill) => affine(img, [1, signed((l / 10) * 0.3, rng), 0, 0, 1, 0], fill),
  ShearY: (img, l, rng, fill) => affine(img, [1, 0, 0, signed((l / 10) * 0.3, rng), 1, 0], fill),
  TranslateXRel: (img, l, rng, fill) => affine(img, [1, 0, signed((l / 10) * 0.45 * img.width, rng), 0, 1, 0], fill),
  TranslateYRel: (img, l, rng, fill) => affine(img, [1, 0, 0, 0, 1, signed((l / 10) * 0.45 * img.height, rng)], fill),
};
const OP_NAMES = Object.keys(RAND_OPS);

/** Draw num_ops ops with replacement; each applies with `prob` at magnitude N(m, std) clipped to [0, 10]. */
export function randAugment(img: RawImage, s: RandAugmentSpec, rng: Rng, fill: readonly number[]): RawImage {
  let out = img;
  for (let k = 0; k < s.num_ops; k++) {
    const op = RAND_OPS[OP_NAMES[rng.int(0, OP_NAMES.length)]!]!;
    if (rng.next() >= s.prob) continue;
    const level = Math.min(10, Math.max(0, s.magnitude_std > 0 ? s.magnitude + s.magnitude_std * rng.normal() : s.magnitude));
    out = op(out, level, rng, fill);
  }
  return out;
}

/** torchvision ColorJitter(s, s, s): brightness, contrast, saturation factors U(1−s, 1+s), random order. */
export function colorJitter(img: RawImage, s: number, rng: Rng): RawImage {
  const ops = [brightness, contrast, saturation];
  rng.shuffle(ops);
  let out = img;
  for (const op of ops) out = op(out, 1 - s + 2 * s * rng.next());
  return out;
}
