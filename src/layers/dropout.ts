// Dropout whose mask is a hash of (step seed, call site, element): the same masks on every backend,
// a resumed run draws the ones it would have drawn, and a training step's masks are computed from
// one host number per step, so a replayed step (src/backend/step_replay.ts) gets new masks without
// running the step's JavaScript. tf.dropout instead draws every element on the CPU in JavaScript
// (millions per call at LRA Text's shapes) and uploads the mask, which a replay cannot recompute.
//   keep_i = hash32(i ⊕ hash32(seed + site·φ)) >> 8  ≥  ⌈rate·2²⁴⌉,   y_i = keep_i ? x_i / (1 − rate) : 0
// The gradient is the same mask applied to dy (nothing saved). On webgpu one kernel each way
// (dropout_webgpu.ts); elsewhere the mask is built on the host and multiplied.
// Porting note: torch.nn.Dropout draws from the device's Philox stream; the masks differ, the
// distribution (independent Bernoulli(1 − rate), scale 1/(1 − rate)) is the same.
import * as tf from '@tensorflow/tfjs';
import { derived } from '../backend/host_inputs.js';
import { keepThreshold, SEEDED_DROPOUT } from './dropout_webgpu.js';

/** lowbias32 (Chris Wellons' 32-bit integer hash); the WGSL kernel computes the same. */
export function hash32(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-call key: the step's seed mixed with the call site (golden-ratio stride between sites). */
export function dropoutKey(seed: number, site: number): number {
  return hash32((seed + Math.imul(site, 0x9e3779b9)) >>> 0);
}

/** The scaled mask of n elements (0 or 1/(1 − rate)) for a step's seed and a call site, on the host. */
export function dropoutMask(seed: number, site: number, n: number, rate: number): Float32Array {
  const key = dropoutKey(seed, site);
  const t = keepThreshold(rate);
  const scale = Math.fround(1 / (1 - rate));
  const m = new Float32Array(n);
  for (let i = 0; i < n; i++) if (hash32((i ^ key) >>> 0) >>> 8 >= t) m[i] = scale;
  return m;
}

/**
 * x with dropout at `rate`; seed: this step's seed [1] (a step input: the training loop's
 * dropoutSeed), site: which dropout of the step this is (fixed per call site and order).
 */
export function seededDropout<T extends tf.Tensor>(x: T, rate: number, seed: Int32Array, site: number): T {
  if (rate <= 0) return x;
  if (rate >= 1) return tf.zerosLike(x);
  const backend = tf.getBackend();
  if (backend !== undefined && tf.getKernel(SEEDED_DROPOUT, backend) !== undefined) {
    // The seed tensor is made where it is used (forward, and again backward), from the step's array.
    const run = (t: tf.Tensor): tf.Tensor => tf.engine().runKernel(SEEDED_DROPOUT, { x: t, seed: tf.tensor1d(seed, 'int32') }, { rate, site } as never) as tf.Tensor;
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({ value: run(args[0] as tf.Tensor), gradFunc: (dy: tf.Tensor) => run(dy) }));
    return f(x) as T;
  }
  const mask = derived((sd) => dropoutMask(sd[0]!, site, x.size, rate), seed);
  return tf.mul(x, tf.tensor(mask, x.shape)) as T;
}
