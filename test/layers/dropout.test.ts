// Seeded dropout (src/layers/dropout.ts) on the CPU: the mask keeps each element with probability
// 1 − rate (binomial bounds), depends only on (seed, site, element), and the op's gradient is the
// same mask applied to dy.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { dropoutMask, hash32, seededDropout } from '../../src/layers/dropout.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('seeded dropout', () => {
  it('hash32 is lowbias32 (reference values computed by hand from its definition)', () => {
    // x ^= x>>16; x *= 0x7feb352d; x ^= x>>15; x *= 0x846ca68b; x ^= x>>16 (mod 2^32)
    const ref = (v: number): number => {
      let x = BigInt(v >>> 0);
      const m = 0xffffffffn;
      x ^= x >> 16n;
      x = (x * 0x7feb352dn) & m;
      x ^= x >> 15n;
      x = (x * 0x846ca68bn) & m;
      x ^= x >> 16n;
      return Number(x);
    };
    for (const v of [0, 1, 2, 12345, 0x7fffffff, 0x80000000, 0xffffffff, -7]) expect(hash32(v)).toBe(ref(v));
  });

  it('keeps 1 − rate of the elements, scaled by 1/(1 − rate); seed and site change the mask', () => {
    const n = 200_000;
    for (const rate of [0.1, 0.5]) {
      const m = dropoutMask(42, 0, n, rate);
      const kept = m.filter((v) => v !== 0);
      const sd = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(kept.length - n * (1 - rate))).toBeLessThan(5 * sd);
      expect(new Set(kept)).toEqual(new Set([Math.fround(1 / (1 - rate))]));
    }
    const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => v === b[i]);
    expect(same(dropoutMask(7, 3, 1000, 0.3), dropoutMask(7, 3, 1000, 0.3))).toBe(true);
    expect(same(dropoutMask(7, 3, 1000, 0.3), dropoutMask(8, 3, 1000, 0.3))).toBe(false);
    expect(same(dropoutMask(7, 3, 1000, 0.3), dropoutMask(7, 4, 1000, 0.3))).toBe(false);
  });

  it('the op multiplies x by the mask and its gradient is the mask times dy', async () => {
    const seed = Int32Array.of(-123456);
    const x = tf.randomNormal([4, 6, 5], 0, 1, 'float32', 3);
    const mask = dropoutMask(seed[0]!, 2, x.size, 0.25);
    const y = seededDropout(x, 0.25, seed, 2);
    const xs = await x.data();
    expect(Array.from(await y.data())).toEqual(Array.from(xs, (v, i) => Math.fround(v * mask[i]!)));
    const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 4);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(seededDropout(t, 0.25, seed, 2), dy)))(x);
    const dys = await dy.data();
    expect(Array.from(await g.data())).toEqual(Array.from(dys, (v, i) => Math.fround(v * mask[i]!)));
    tf.dispose([x, y, dy, g]);
  });
});
