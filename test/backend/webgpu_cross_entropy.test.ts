// The training kernels of src/train on a real WebGPU device (CI: lavapipe). The fused softmax
// cross-entropy (cross_entropy_webgpu.ts): loss and logit gradient against a float64 evaluation,
// through both loss entry points, with large logits (the max shift) and a row count that is not a
// workgroup multiple. The optimizer's row sums of squares (sum_squares_webgpu.ts): float64 sums for
// rows shorter than a block, not a block multiple and over 2^20, and each row of [R, P] the same bits
// as that row alone as [1, P].
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { shutdownBackend, takeGpuError } from '../../src/backend/index.js';
import { labelIndex } from '../../src/data/labels.js';
import { crossEntropy, maskedCrossEntropy } from '../../src/train/loss.js';
import { rowSumSquares } from '../../src/train/sum_squares.js';
import { ROW_SUM_SQUARES } from '../../src/train/sum_squares_webgpu.js';
import { IGNORE_INDEX } from '../../src/tasks/types.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu cross-entropy tests');

/** float64 mean CE and its gradient for logits z [N, C] (row-major). */
function reference(z: Float32Array, N: number, C: number, y: Int32Array): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(N * C);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, z[n * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[n * C + c]! - m);
    const lse = m + Math.log(s);
    loss += lse - z[n * C + y[n]!]!;
    for (let c = 0; c < C; c++) grad[n * C + c] = (Math.exp(z[n * C + c]! - lse) - (c === y[n] ? 1 : 0)) / N;
  }
  return { loss: loss / N, grad };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return e;
}

afterAll(() => shutdownBackend());

describe.skipIf(why !== undefined)('webgpu fused cross-entropy', () => {
  it('crossEntropy: loss and gradient = float64, with logits up to ±60 and 1000 classes', async () => {
    const [N, C] = [37, 1000];
    const z = tf.mul(tf.randomNormal([N, C], 0, 1, 'float32', 3), 20) as tf.Tensor2D;
    const y = Int32Array.from({ length: N }, (_, i) => (i * 131) % C);
    const v = tf.variable(z, true, 'ce_z');
    const n0 = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => crossEntropy(v as tf.Tensor2D, y), [v]);
    const want = reference((await z.data()) as Float32Array, N, C, y);
    expect(Math.abs((await value.data())[0]! - want.loss) / want.loss).toBeLessThan(1e-5);
    expect(maxAbs(await grads['ce_z']!.data(), want.grad)).toBeLessThan(1e-6);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(n0);
    tf.dispose([v, z]);
    expect(await takeGpuError()).toBeUndefined();
  });

  it('maskedCrossEntropy over labelled positions only = float64 over those rows', async () => {
    const [B, T, V] = [3, 5, 300];
    const logits = tf.randomNormal([B, T, V], 0, 2, 'float32', 5) as tf.Tensor3D;
    const labels = Int32Array.from({ length: B * T }, (_, i) => (i % 3 === 0 ? IGNORE_INDEX : (i * 17) % V));
    const idx = labelIndex(labels);
    const g = tf.grad((x: tf.Tensor) => maskedCrossEntropy(x as tf.Tensor3D, idx))(logits);
    const loss = maskedCrossEntropy(logits, idx);
    const zAll = (await logits.data()) as Float32Array;
    const sel = new Float32Array(idx.rows.length * V);
    idx.rows.forEach((r, j) => sel.set(zAll.subarray(r * V, (r + 1) * V), j * V));
    const want = reference(sel, idx.rows.length, V, idx.targets);
    expect(Math.abs((await loss.data())[0]! - want.loss) / want.loss).toBeLessThan(1e-5);
    const got = (await g.data()) as Float32Array;
    const gotSel = new Float32Array(sel.length);
    idx.rows.forEach((r, j) => gotSel.set(got.subarray(r * V, (r + 1) * V), j * V));
    expect(maxAbs(gotSel, want.grad)).toBeLessThan(1e-6);
    // unlabelled rows get no gradient
    const unl = [...labels.keys()].filter((i) => labels[i] === IGNORE_INDEX);
    expect(Math.max(...unl.map((r) => maxAbs(got.subarray(r * V, (r + 1) * V), new Float32Array(V))))).toBe(0);
    tf.dispose([logits, g, loss]);
  });
});

describe.skipIf(why !== undefined)('webgpu row sums of squares', () => {
  /** [R, P] values spread over magnitudes 1e-3 … 10 (a gradient's spread), from a fixed LCG. */
  function values(R: number, P: number, seed: number): Float32Array {
    const x = new Float32Array(R * P);
    let s = seed >>> 0;
    const next = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    for (let i = 0; i < x.length; i++) x[i] = (next() - 0.5) * 10 ** Math.floor(next() * 5 - 3);
    return x;
  }

  // A stage-1 block is 4,096 floats: less than one block (stage 1 alone); 3 blocks and 17 (two
  // stages); 269 blocks, P > 2^20 (stage 2 adds 2 partials a thread).
  for (const [R, P] of [[3, 100], [1, 3 * 4096 + 17], [3, 1_100_000]] as const) {
    it(`[${R}, ${P}]: float64 row sums, and each row alone as [1, P] the same bits`, async () => {
      expect(tf.getKernel(ROW_SUM_SQUARES, 'webgpu')).toBeDefined();
      const data = values(R, P, R * 7919 + P);
      const x = tf.tensor2d(data, [R, P]);
      const n0 = tf.memory().numTensors;
      const got = rowSumSquares(x);
      expect(got.shape).toEqual([R]);
      expect(tf.memory().numTensors).toBe(n0 + 1);
      const sums = await got.data();
      for (let r = 0; r < R; r++) {
        let want = 0;
        for (let p = r * P; p < (r + 1) * P; p++) want += data[p]! * data[p]!;
        expect(Math.abs(sums[r]! - want) / want).toBeLessThan(1e-6);
        const alone = tf.tidy(() => rowSumSquares(tf.slice(x, [r, 0], [1, P])));
        expect((await alone.data())[0]).toBe(sums[r]);
        alone.dispose();
      }
      tf.dispose([x, got]);
      expect(await takeGpuError()).toBeUndefined();
    });
  }
});
