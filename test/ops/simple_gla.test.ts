// simpleGla (scalar per-head decay): golden fixtures, naive = parallel = chunk, causality, leaks.
import type * as tf from '@tensorflow/tfjs';
import { simpleGla } from '../../src/ops/index.js';
import { describeOp } from './suite.js';

const [B, H, K, V] = [2, 2, 8, 12];

describeOp({
  name: 'simple_gla',
  forms: ['naive', 'parallel', 'chunk'],
  makeInputs: (rng, t, temperature, withState) => ({
    q: rng.randn([B, t, H, K]),
    k: rng.randn([B, t, H, K]),
    v: rng.randn([B, t, H, V]),
    g: rng.logDecay([B, t, H], temperature),
    ...(withState ? { initialState: rng.randn([B, H, K, V]) } : {}),
  }),
  call: (x, opts) =>
    simpleGla(x.q as tf.Tensor4D, x.k as tf.Tensor4D, x.v as tf.Tensor4D, x.g as tf.Tensor3D, {
      ...opts,
      initialState: x.initialState as tf.Tensor4D | undefined,
    }),
  timeInputs: ['q', 'k', 'v', 'g'],
  scan: true,
  chunkSizes: (t) => (t <= 7 ? [4, 16] : [16, 32, 5]),
});
