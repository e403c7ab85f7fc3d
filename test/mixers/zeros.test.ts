// ZeroS beyond the registry contract: its two causal forms (the quadratic one with a running-max
// shift, the default, and the reference's linear-time scan) compute the same function, and the
// linear form's chunked prefill and token-by-token decoding continue the parallel pass.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Params } from '../../src/layers/params.js';
import { zeros } from '../../src/mixers/zeros.js';
import type { MixerState } from '../../src/mixers/types.js';

const D = 32;
const B = 2;
const T = 13;

beforeAll(async () => {
  await initBackend('cpu');
});

function build(extra: Record<string, unknown>) {
  const params = new Params(4);
  const opts = zeros.options.parse({ num_heads: 2, ...extra });
  const mixer = zeros.create(opts as never, { dModel: D, layer: 0, nLayers: 1, params: params.scope(''), maxSeqLen: 64 });
  tf.tidy(() => {
    for (const v of params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 8)));
  });
  return { params, mixer };
}

const maxDiff = async (a: tf.Tensor, b: tf.Tensor): Promise<number> => (await tf.max(tf.abs(tf.sub(a, b))).data())[0]!;

describe('zeros', () => {
  it('the quadratic and the linear-time causal forms agree, with and without the zero-order term', async () => {
    for (const first of [false, true]) {
      const quad = build({ first_layer_zero_order: first });
      const lin = build({ first_layer_zero_order: first, form: 'linear' });
      const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 3) as tf.Tensor3D;
      const a = quad.mixer.forward(x).y;
      const b = lin.mixer.forward(x).y;
      expect(await maxDiff(a, b)).toBeLessThan(1e-4);
      expect(await maxDiff(a, tf.zerosLike(a))).toBeGreaterThan(0.1);
      tf.dispose([x, a, b]);
      quad.params.dispose();
      lin.params.dispose();
    }
  });

  it('linear form: prefill with state then decode one token at a time = one parallel pass', async () => {
    const { mixer, params } = build({ form: 'linear' });
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 5) as tf.Tensor3D;
    const full = mixer.forward(x).y;
    const pre = mixer.forward(tf.slice(x, [0, 0, 0], [B, 5, D]) as tf.Tensor3D, { wantState: true });
    let state: MixerState = pre.state!;
    for (let t = 5; t < T; t++) {
      const r = mixer.forward(tf.slice(x, [0, t, 0], [B, 1, D]) as tf.Tensor3D, { state, wantState: true });
      expect(await maxDiff(r.y, tf.slice(full, [0, t, 0], [B, 1, D]))).toBeLessThan(2e-4);
      state = r.state!;
    }
    params.dispose();
  });
});
