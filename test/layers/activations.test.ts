// SiLU with its closed-form gradient and the gated product x ⊙ SiLU(g) (src/layers/basic.ts): the
// values and gradients of tfjs's autodiff of the compositions, while the backward pass keeps less.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { mulSilu, silu } from '../../src/layers/basic.js';

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

describe('mulSilu', () => {
  it('is x ⊙ silu(g) bit for bit in value and both gradients, keeping x and g but not silu(g)', () => {
    const x = tf.variable(tf.tensor2d([[0.5, -2, 1.5], [3, -0.1, 0]]), true, 'mulsilu_x');
    const g = tf.variable(tf.tensor2d([[-9, -1, 0], [0.3, 2, 11]]), true, 'mulsilu_g');
    const w = tf.tensor2d([[1.2, -0.7, 0.4], [-1.5, 0.8, 2]]);
    const run = (f: () => tf.Tensor): { loss: number; gx: Float32Array; gg: Float32Array; savedBytes: number } => {
      let savedBytes = 0;
      const r = tf.variableGrads(() => {
        const y = tf.sum(tf.mul(f(), w)) as tf.Scalar;
        const tape = (tf.engine() as unknown as { state: { activeTape: TapeNode[] } }).state.activeTape;
        const ids = new Set<object>();
        for (const node of tape) for (const t of node.saved ?? []) if (!ids.has(t.dataId)) ids.add(t.dataId) && (savedBytes += t.size * 4);
        return y;
      }, [x, g]);
      const out = { loss: r.value.dataSync()[0]!, gx: r.grads[x.name]!.dataSync() as Float32Array, gg: r.grads[g.name]!.dataSync() as Float32Array, savedBytes };
      tf.dispose([r.value, ...Object.values(r.grads)]);
      return out;
    };
    const plain = run(() => tf.mul(x, silu(g)));
    const ours = run(() => mulSilu(x, g));
    expect(ours.loss).toBe(plain.loss);
    expect([...ours.gx]).toEqual([...plain.gx]);
    expect([...ours.gg]).toEqual([...plain.gg]);
    expect(plain.savedBytes - ours.savedBytes).toBe(g.size * 4); // silu(g), one value per element
    expect(() => mulSilu(x, tf.ones([3]))).toThrow(/one shape/);
    tf.dispose([x, g, w]);
  });
});
