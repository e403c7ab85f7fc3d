// hgrn (elementwise recurrence, [B,T,D]): golden fixtures, naive = parallel (scan) = chunk, causality, leaks.
import type * as tf from '@tensorflow/tfjs';
import { hgrn } from '../../src/ops/index.js';
import { describeOp } from './suite.js';

const [B, D] = [2, 20];

describeOp({
  name: 'hgrn',
  forms: ['naive', 'parallel', 'chunk'],
  makeInputs: (rng, t, temperature, withState) => ({
    x: rng.randn([B, t, D]),
    g: rng.logDecay([B, t, D], temperature),
    ...(withState ? { initialState: rng.randn([B, D]) } : {}),
  }),
  call: (x, opts) =>
    hgrn(x.x as tf.Tensor3D, x.g as tf.Tensor3D, {
      ...opts,
      initialState: x.initialState as tf.Tensor2D | undefined,
    }),
  timeInputs: ['x', 'g'],
  scan: true,
  chunkSizes: (t) => (t <= 7 ? [4, 16] : [16, 32, 5]),
});
