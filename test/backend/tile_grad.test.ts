// Tile's gradient (and so tf.broadcastTo's) is one reduction after initBackend: the sum of dy over
// the repetitions, checked against the sum written out element by element, for broadcasts and for
// true tilings of every rank up to 5 (tfjs-core's own gradient stops at rank 4), with a kernel
// count that does not grow with the number of repetitions.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** d/dx Σ w ⊙ tile(x, reps), element by element: Σ over every output index that reads x[i]. */
function expectedGrad(xShape: number[], reps: number[], w: Float32Array): Float32Array {
  const yShape = xShape.map((s, i) => s * reps[i]!);
  const xSize = xShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(xSize);
  const ySize = w.length;
  for (let f = 0; f < ySize; f++) {
    let rem = f;
    let xi = 0;
    let stride = 1;
    const idx = new Array<number>(yShape.length);
    for (let a = yShape.length - 1; a >= 0; a--) {
      idx[a] = rem % yShape[a]!;
      rem = Math.floor(rem / yShape[a]!);
    }
    for (let a = yShape.length - 1; a >= 0; a--) {
      xi += (idx[a]! % xShape[a]!) * stride;
      stride *= xShape[a]!;
    }
    out[xi]! += w[f]!;
  }
  return out;
}

const CASES: [number[], number[]][] = [
  [[3], [4]],
  [[2, 3], [3, 2]],
  [[2, 1, 3], [1, 5, 1]],
  [[2, 5, 1, 3], [1, 1, 7, 1]], // Mamba's B_t over d_inner
  [[2, 2, 1, 3], [2, 1, 3, 2]],
  [[1, 2, 1, 2, 3], [2, 1, 4, 2, 1]],
  [[2, 3], [1, 1]],
];

describe('Tile gradient', () => {
  for (const [xShape, reps] of CASES) {
    it(`x [${xShape.join(',')}] reps [${reps.join(',')}]`, async () => {
      const x = tf.randomNormal(xShape, 0, 1, 'float32', 1);
      const yShape = xShape.map((s, i) => s * reps[i]!);
      const w = tf.randomNormal(yShape, 0, 1, 'float32', 2);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, reps), w)))(x);
      expect(g.shape).toEqual(xShape);
      const want = expectedGrad(xShape, reps, (await w.data()) as Float32Array);
      const got = await g.data();
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 4);
    });
  }

  it('broadcastTo backward launches a fixed number of kernels, not one slice per repetition', async () => {
    const count = async (e: number): Promise<number> => {
      const x = tf.randomNormal([2, 4, 1, 3]);
      const w = tf.randomNormal([2, 4, e, 3]);
      const info = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.broadcastTo(t, [2, 4, e, 3]), w)))(x));
      return info.kernels.length;
    };
    const [few, many] = [await count(2), await count(64)];
    expect(many).toBe(few);
    expect(many).toBeLessThan(20); // tfjs-core's gradient: 2 more per repetition
  });
});

describe('Multiply gradient', () => {
  it('is dy·b and dy·a summed over broadcast axes, with no Cast kernel for float32 operands', async () => {
    const a = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 3);
    const b = tf.randomNormal([1, 3, 1], 0, 1, 'float32', 4);
    const w = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 5);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.mul(x, y), w)))([a, b]);
    const [av, bv, wv] = [await a.data(), await b.data(), await w.data()];
    const wantA = new Float32Array(24);
    const wantB = new Float32Array(3);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        for (let k = 0; k < 4; k++) {
          const f = (i * 3 + j) * 4 + k;
          wantA[f] = wv[f]! * bv[j]!;
          wantB[j]! += wv[f]! * av[f]!;
        }
      }
    }
    expect(ga!.shape).toEqual([2, 3, 4]);
    expect(gb!.shape).toEqual([1, 3, 1]);
    const [gotA, gotB] = [await ga!.data(), await gb!.data()];
    wantA.forEach((v, i) => expect(gotA[i]).toBeCloseTo(v, 5));
    wantB.forEach((v, i) => expect(gotB[i]).toBeCloseTo(v, 4));
    const prof = await tf.profile(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(x, y)))([a, b]));
    expect(prof.kernels.filter((k) => k.name === 'Cast')).toHaveLength(0);
    // An int32 operand still becomes float32 in its partner's gradient.
    const gi = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, tf.tensor1d([2, 3], 'int32'))))(tf.tensor1d([1, 1]));
    expect(gi.dtype).toBe('float32');
    expect([...(await gi.data())]).toEqual([2, 3]);
  });
});
