// The seeded dropout kernel (src/layers/dropout_webgpu.ts) on a real WebGPU device (CI: lavapipe):
// its output and gradient equal the host mask of src/layers/dropout.ts bit for bit, including
// past one launch's threads (elements strided over 2^20 threads) and for negative seeds.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { shutdownBackend } from '../../src/backend/index.js';
import { dropoutMask, seededDropout } from '../../src/layers/dropout.js';
import { SEEDED_DROPOUT } from '../../src/layers/dropout_webgpu.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu dropout test');

afterAll(() => shutdownBackend());

describe.skipIf(why !== undefined)('seeded dropout on webgpu', () => {
  it('equals the host mask, forward and backward', async () => {
    expect(tf.getKernel(SEEDED_DROPOUT, 'webgpu')).toBeDefined();
    const cases: { shape: number[]; rate: number; seed: number; site: number }[] = [
      { shape: [3, 7, 5], rate: 0.1, seed: 0, site: 0 },
      { shape: [2, 33, 16], rate: 0.5, seed: -987654321, site: 5 },
      { shape: [64, 300, 64], rate: 0.1, seed: 2024, site: 11 },
    ];
    for (const c of cases) {
      const seed = Int32Array.of(c.seed);
      const x = tf.randomNormal(c.shape, 0, 1, 'float32', 1);
      const dy = tf.randomNormal(c.shape, 0, 1, 'float32', 2);
      const mask = dropoutMask(c.seed, c.site, x.size, c.rate);
      const y = seededDropout(x, c.rate, seed, c.site);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(seededDropout(t, c.rate, seed, c.site), dy)))(x);
      const [xs, dys, ys, gs] = await Promise.all([x.data(), dy.data(), y.data(), g.data()]);
      const want = (v: Float32Array | Int32Array | Uint8Array) => Float32Array.from(v, (a, i) => Math.fround(a * mask[i]!));
      expect(Buffer.from(ys.buffer).equals(Buffer.from(want(xs).buffer)), `forward ${JSON.stringify(c)}`).toBe(true);
      expect(Buffer.from(gs.buffer).equals(Buffer.from(want(dys).buffer)), `backward ${JSON.stringify(c)}`).toBe(true);
      tf.dispose([x, dy, y, g]);
    }
  });
});
