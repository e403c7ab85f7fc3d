// gla (per-channel gated recurrence): golden fixtures, naive = parallel = chunk, causality, leaks.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { gla } from '../../src/ops/index.js';
import { describeOp } from './suite.js';

const [B, H, K, V] = [2, 2, 8, 12];

describeOp({
  name: 'gla',
  forms: ['naive', 'parallel', 'chunk'],
  makeInputs: (rng, t, temperature, withState) => ({
    q: rng.randn([B, t, H, K]),
    k: rng.randn([B, t, H, K]),
    v: rng.randn([B, t, H, V]),
    g: rng.logDecay([B, t, H, K], temperature),
    ...(withState ? { initialState: rng.randn([B, H, K, V]) } : {}),
  }),
  call: (x, opts) =>
    gla(x.q as tf.Tensor4D, x.k as tf.Tensor4D, x.v as tf.Tensor4D, x.g as tf.Tensor4D, {
      ...opts,
      initialState: x.initialState as tf.Tensor4D | undefined,
    }),
  timeInputs: ['q', 'k', 'v', 'g'],
  scan: true,
  chunkSizes: (t) => (t <= 7 ? [4, 16] : [16, 32, 5]),
});

describe('gla validation', () => {
  it('names the tensor and the layout in shape errors', () => {
    const q = tf.zeros([1, 3, 2, 4]) as tf.Tensor4D;
    const v = tf.zeros([1, 3, 2, 5]) as tf.Tensor4D;
    expect(() => gla(q, tf.zeros([1, 3, 2, 5]) as tf.Tensor4D, v, q)).toThrow(/gla: k must be \[B,T,H,K\]/);
    expect(() => gla(q, q, v, q, { initialState: tf.zeros([1, 2, 5, 4]) as tf.Tensor4D })).toThrow(/initialState/);
    expect(() => gla(q, q, v, q, { chunkSize: 0 })).toThrow(/chunkSize/);
  });
});
