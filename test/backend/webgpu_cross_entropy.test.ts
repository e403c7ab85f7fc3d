// The fused softmax cross-entropy kernels (src/train/cross_entropy_webgpu.ts) on a real
// WebGPU device (CI: lavapipe): loss and logit gradient against a float64 evaluation, through both
// loss entry points, with large logits (the max shift) and a row count that is not a workgroup multiple.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { shutdownBackend, takeGpuError } from '../../src/backend/index.js';
import { labelIndex } from '../../src/data/labels.js';
import { crossEntropy, maskedCrossEntropy } from '../../src/train/loss.js';
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

describe.skipIf(why !== undefined)('webgpu fused cross-entropy', () => {
  afterAll(async () => {
    await shutdownBackend();
  });

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
