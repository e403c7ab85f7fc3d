// gatedDeltaRule (Gated DeltaNet): golden fixtures, naive = parallel = chunk, causality, leaks.
import type * as tf from '@tensorflow/tfjs';
import { gatedDeltaRule } from '../../src/ops/index.js';
import { describeOp } from './suite.js';

const [B, H, K, V] = [2, 2, 8, 12];

describeOp({
  name: 'gated_delta_rule',
  forms: ['naive', 'parallel', 'chunk'],
  makeInputs: (rng, t, temperature, withState) => ({
    q: rng.unitRows([B, t, H, K]),
    k: rng.unitRows([B, t, H, K]),
    v: rng.randn([B, t, H, V]),
    g: rng.logDecay([B, t, H], temperature),
    beta: rng.uniformTensor([B, t, H], 0.02, 0.99),
    ...(withState ? { initialState: rng.randn([B, H, K, V]) } : {}),
  }),
  call: (x, opts) =>
    gatedDeltaRule(x.q as tf.Tensor4D, x.k as tf.Tensor4D, x.v as tf.Tensor4D, x.g as tf.Tensor3D, x.beta as tf.Tensor3D, {
      ...opts,
      initialState: x.initialState as tf.Tensor4D | undefined,
    }),
  timeInputs: ['q', 'k', 'v', 'g', 'beta'],
  scan: false,
  chunkSizes: (t) => (t <= 7 ? [4, 16] : [16, 32, 5]),
});
