// The fused SiLU and SiLU-gate kernels (src/layers/silu_webgpu.ts) on a real WebGPU device (CI:
// lavapipe): values and gradients against a float64 evaluation of y = x·σ(x) and y = x ⊙ g·σ(g),
// at sizes over one launch's 2^20 threads and with saturating inputs (|x| up to 60), and through the
// layers' entry points (basic.ts silu, mulSilu), with nothing leaked.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { shutdownBackend, takeGpuError } from '../../src/backend/index.js';
import { mulSilu, silu } from '../../src/layers/basic.js';
import { SILU_FWD } from '../../src/layers/silu_webgpu.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu silu tests');

const sig = (a: number): number => 1 / (1 + Math.exp(-a));

/** max |got − want| / (1 + |want|) */
function err(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  return e;
}

/** n values: mostly N(0, 2), a few saturating ones at the ends of the range. */
function inputs(n: number, seed: number): Float32Array {
  const v = tf.tidy(() => tf.randomNormal([n], 0, 2, 'float32', seed).dataSync() as Float32Array);
  const out = Float32Array.from(v);
  out[0] = 60;
  out[1] = -60;
  out[2] = 0;
  return out;
}

describe.skipIf(why !== undefined)('webgpu fused SiLU', () => {
  afterAll(async () => {
    await shutdownBackend();
  });

  it('is registered, and SiLU = x·σ(x) with gradient σ(x)(1 + x(1 − σ(x))), past 2^20 elements', async () => {
    expect(tf.getKernel(SILU_FWD, 'webgpu')).toBeDefined();
    for (const [shape, seed] of [[[3, 7, 5], 1], [[1100, 1000], 2]] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xs = inputs(n, seed);
      const dys = inputs(n, seed + 10);
      const x = tf.tensor(xs, [...shape]);
      const dy = tf.tensor(dys, [...shape]);
      const n0 = tf.memory().numTensors;
      const y = silu(x);
      const dx = tf.grad((t: tf.Tensor) => silu(t))(x, dy);
      expect(tf.memory().numTensors).toBe(n0 + 2);
      expect(y.shape).toEqual([...shape]);
      expect(dx.shape).toEqual([...shape]);
      const wantY = Float64Array.from(xs, (a) => a * sig(a));
      const wantDx = Float64Array.from(xs, (a, i) => dys[i]! * sig(a) * (1 + a * (1 - sig(a))));
      expect(err(await y.data(), wantY)).toBeLessThan(1e-6);
      expect(err(await dx.data(), wantDx)).toBeLessThan(1e-6);
      tf.dispose([x, dy, y, dx]);
    }
    expect(await takeGpuError()).toBeUndefined();
  });

  it('the gate x ⊙ SiLU(g): value and both gradients, past 2^20 elements', async () => {
    for (const [shape, seed] of [[[2, 9, 13], 3], [[700, 1600], 4]] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xs = inputs(n, seed);
      const gs = inputs(n, seed + 20);
      const dys = inputs(n, seed + 30);
      const x = tf.tensor(xs, [...shape]);
      const g = tf.tensor(gs, [...shape]);
      const dy = tf.tensor(dys, [...shape]);
      const n0 = tf.memory().numTensors;
      const y = mulSilu(x, g);
      const [dx, dg] = tf.grads((a: tf.Tensor, b: tf.Tensor) => mulSilu(a, b))([x, g], dy);
      expect(tf.memory().numTensors).toBe(n0 + 3);
      const wantY = Float64Array.from(xs, (a, i) => a * gs[i]! * sig(gs[i]!));
      const wantDx = Float64Array.from(dys, (d, i) => d * gs[i]! * sig(gs[i]!));
      const wantDg = Float64Array.from(dys, (d, i) => d * xs[i]! * sig(gs[i]!) * (1 + gs[i]! * (1 - sig(gs[i]!))));
      expect(err(await y.data(), wantY)).toBeLessThan(1e-6);
      expect(err(await dx!.data(), wantDx)).toBeLessThan(1e-6);
      expect(err(await dg!.data(), wantDg)).toBeLessThan(1e-6);
      tf.dispose([x, g, dy, y, dx!, dg!]);
    }
    expect(await takeGpuError()).toBeUndefined();
  });
});
