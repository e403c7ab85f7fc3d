// deltaRule (DeltaNet): golden fixtures, naive = parallel = chunk (WY/UT), causality, leaks.
// q, k are unit-norm inputs (the op does not normalise them; the golden file feeds unit-norm q, k).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { deltaRule, unitLowerInverse } from '../../src/ops/index.js';
import { expectClose } from '../helpers/close.js';
import { Rng } from './harness.js';
import { describeOp } from './suite.js';

const [B, H, K, V] = [2, 2, 8, 12];

describeOp({
  name: 'delta_rule',
  forms: ['naive', 'parallel', 'chunk'],
  makeInputs: (rng, t, temperature, withState) => ({
    q: rng.unitRows([B, t, H, K]),
    k: rng.unitRows([B, t, H, K]),
    v: rng.randn([B, t, H, V]),
    // temperature 1 → β up to ~1 (strong writes), 16 → β in (0, 0.5)
    beta: rng.uniformTensor([B, t, H], 0.02, temperature === 1 ? 0.99 : 0.5),
    ...(withState ? { initialState: rng.randn([B, H, K, V]) } : {}),
  }),
  call: (x, opts) =>
    deltaRule(x.q as tf.Tensor4D, x.k as tf.Tensor4D, x.v as tf.Tensor4D, x.beta as tf.Tensor3D, {
      ...opts,
      initialState: x.initialState as tf.Tensor4D | undefined,
    }),
  timeInputs: ['q', 'k', 'v', 'beta'],
  scan: false,
  chunkSizes: (t) => (t <= 7 ? [4, 16] : [16, 32, 24, 5]),
});

describe('unitLowerInverse', () => {
  it('inverts I + A for strictly lower A, including non-power-of-two sizes and repeated keys', () => {
    const rng = new Rng(3);
    for (const c of [1, 5, 16, 24]) {
      tf.tidy(() => {
        const a = tf.mul(rng.randn([3, c, c], 0.3), tf.linalg.bandPart(tf.ones([c, c]), -1, 0).sub(tf.eye(c)));
        const inv = unitLowerInverse(a as tf.Tensor3D);
        const prod = tf.matMul(tf.add(tf.eye(c), a), inv);
        expectClose(prod, tf.broadcastTo(tf.eye(c), [3, c, c]), { name: `(I+A)·inv C=${c}`, rtol: 0, atol: 1e-4 });
      });
    }
    // β·(k_i·k_j) is O(1/√K) for random unit keys; N(0, 0.3²) entries keep the inverse well-conditioned.
    // Identical keys with β = 1: A = strictly-lower ones; the inverse is I − (sub-diagonal), no blow-up.
    tf.tidy(() => {
      const c = 32;
      const a = tf.linalg.bandPart(tf.ones([1, c, c]), -1, 0).sub(tf.eye(c));
      const inv = unitLowerInverse(a as tf.Tensor3D);
      const want = tf.sub(tf.eye(c), tf.sub(tf.linalg.bandPart(tf.ones([c, c]), 1, 0), tf.eye(c)));
      expectClose(inv, want, { name: 'all-ones inverse', rtol: 0, atol: 1e-6 });
    });
  });

  it('keeps the delta rule exact when keys repeat and beta is ~1', () => {
    const rng = new Rng(5);
    tf.tidy(() => {
      const t = 64;
      const k1 = rng.unitRows([1, 1, 1, K]);
      const k = tf.tile(k1, [1, t, 1, 1]) as tf.Tensor4D;
      const q = rng.unitRows([1, t, 1, K]) as tf.Tensor4D;
      const v = rng.randn([1, t, 1, V]) as tf.Tensor4D;
      const beta = tf.fill([1, t, 1], 0.999) as tf.Tensor3D;
      const ref = deltaRule(q, k, v, beta, { form: 'naive' });
      const got = deltaRule(q, k, v, beta, { form: 'chunk', chunkSize: 32 });
      expectClose(got.o, ref.o, { name: 'o', rtol: 1e-5 });
      expectClose(got.finalState, ref.finalState, { name: 'finalState', rtol: 1e-5 });
      expect(Number.isFinite(got.o.sum().dataSync()[0]!)).toBe(true);
    });
  });
});
