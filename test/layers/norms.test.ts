// RMSNorm / LayerNorm with hand-written gradients: same values and input gradients as tfjs's
// autodiff of the plain op chain (the formulas they replace), in fewer kernels, without leaks.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { layerNorm, rmsNorm } from '../../src/layers/basic.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** The op chains the custom-gradient norms replace, differentiated by tfjs. */
const plainRms = (x: tf.Tensor, eps: number): tf.Tensor => tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)));
const plainLn = (x: tf.Tensor, eps: number): tf.Tensor => {
  const c = tf.sub(x, tf.mean(x, -1, true));
  return tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), eps)));
};

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const [x, y] = [a.dataSync(), b.dataSync()];
  let m = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    m = Math.max(m, Math.abs(x[i]! - y[i]!));
    s = Math.max(s, Math.abs(y[i]!));
  }
  return m / s;
}

const cases: [string, (x: tf.Tensor, eps?: number) => tf.Tensor, (x: tf.Tensor, eps: number) => tf.Tensor, number][] = [
  ['rmsNorm', rmsNorm, plainRms, 1e-6],
  ['layerNorm', layerNorm, plainLn, 1e-5],
];

describe.each(cases)('%s', (_name, norm, plain, eps) => {
  it('matches the plain op chain in value and input gradient (rows of different scale, a weighted loss)', () => {
    // Rows scaled from 1e-2 to 1e2, with an offset, so eps and the centring both matter.
    const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([3, 5, 24], 0, 1, 'float32', 7), tf.pow(10, tf.linspace(-2, 2, 15).reshape([3, 5, 1]))), 0.3));
    const w = tf.randomNormal([3, 5, 24], 0, 1, 'float32', 8);
    const loss = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(tf.square(f(t)), w));
    const y = norm(x, eps);
    const yRef = plain(x, eps);
    expect(maxRelDiff(y, yRef)).toBeLessThan(1e-6);
    const n0 = tf.memory().numTensors;
    const g = tf.grad(loss((t) => norm(t, eps)))(x);
    expect(tf.memory().numTensors).toBe(n0 + 1);
    const gRef = tf.grad(loss((t) => plain(t, eps)))(x);
    expect(maxRelDiff(g, gRef)).toBeLessThan(1e-5);
    tf.dispose([x, w, y, yRef, g, gRef]);
  });

  it('launches fewer kernels than autodiff of the op chain for forward + backward', async () => {
    const x = tf.randomNormal([2, 4, 16], 0, 1, 'float32', 3);
    const count = async (f: (t: tf.Tensor) => tf.Tensor): Promise<number> => {
      const p = await tf.profile(() => {
        tf.grad((t: tf.Tensor) => tf.sum(f(t)))(x).dispose();
      });
      // Bookkeeping kernels (clones of saved tensors, reshapes, float32→float32 casts) launch no GPU work.
      return p.kernels.filter((k) => !['Identity', 'Reshape', 'Cast'].includes(k.name)).length;
    };
    const custom = await count((t) => norm(t, eps));
    const ref = await count((t) => plain(t, eps));
    expect(custom).toBeLessThan(ref * 0.75);
    x.dispose();
  });
});
