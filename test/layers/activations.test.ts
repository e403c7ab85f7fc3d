// SiLU with its closed-form gradient (src/layers/basic.ts): the value and input gradient of tfjs's
// autodiff of x·σ(x), while the backward pass keeps only x (autodiff keeps σ(x) too).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { silu } from '../../src/layers/basic.js';

beforeAll(async () => {
  await initBackend('cpu');
});

interface TapeNode {
  saved?: tf.Tensor[];
}

/** The loss, the gradient of x, and the bytes the forward saved for the backward (unique buffers). */
function step(f: (x: tf.Tensor) => tf.Tensor, x: tf.Variable, w: tf.Tensor): { loss: number; grad: Float32Array; savedBytes: number } {
  let savedBytes = 0;
  const r = tf.variableGrads(() => {
    const y = tf.sum(tf.mul(f(x), w)) as tf.Scalar;
    const tape = (tf.engine() as unknown as { state: { activeTape: TapeNode[] } }).state.activeTape;
    const ids = new Set<object>();
    for (const node of tape) for (const t of node.saved ?? []) if (!ids.has(t.dataId)) ids.add(t.dataId) && (savedBytes += t.size * 4);
    return y;
  }, [x]);
  const out = { loss: r.value.dataSync()[0]!, grad: r.grads[x.name]!.dataSync() as Float32Array, savedBytes };
  tf.dispose([r.value, ...Object.values(r.grads)]);
  return out;
}

describe('silu', () => {
  it('has the value and gradient of autodiff of x·σ(x), without keeping σ(x) for the backward pass', () => {
    // both signs, large magnitudes (σ saturates) and zero
    const x = tf.variable(tf.tensor2d([[-12, -3.5, -1, -0.25, 0], [0.25, 1, 2.5, 7, 15]]));
    const w = tf.tensor2d([[0.3, -1.2, 2, 0.7, -0.4], [1.1, -0.6, 0.9, -2, 0.5]]);
    const plain = step((v) => tf.mul(v, tf.sigmoid(v)), x, w);
    const ours = step(silu, x, w);
    expect(Math.abs(ours.loss - plain.loss)).toBeLessThan(1e-6);
    ours.grad.forEach((g, i) => expect(Math.abs(g - plain.grad[i]!), `element ${i}`).toBeLessThan(1e-6));
    expect(plain.savedBytes - ours.savedBytes).toBe(x.size * 4); // σ(x), one value per element
    // float64 check of the closed form at one point: d/dx x·σ(x) = σ(1 + x(1 − σ))
    const s = 1 / (1 + Math.exp(-2.5));
    expect(Math.abs(ours.grad[7]! - 0.9 * s * (1 + 2.5 * (1 - s)))).toBeLessThan(1e-6);
    tf.dispose([x, w]);
  });
});
