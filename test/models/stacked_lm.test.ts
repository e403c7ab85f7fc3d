// Stacked replicas (train.stack): a causal LM built from seeds [s0, s1, s2] is three models in one.
// For every mixer that declares `stacks`, each replica's logits and parameter gradients equal
// those of the model built from its seed alone, on its own batch (labelled counts differing per
// replica, so the head's padding path runs too), with every parameter moved off its init.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { MIXERS } from '../../src/mixers/registry.js';
import { expectStackEqualsAlone } from '../helpers/stacked.js';

const [B, T, V, D] = [2, 12, 24, 16];
const SEEDS = [2, 5, 9];

beforeAll(async () => {
  await initBackend('cpu');
});

/** Mixer options per stackable mixer: the default form and the one with every parameter kind in use. */
const CASES: Record<string, Record<string, unknown>[]> = {
  metala: [{ num_heads: 2 }, { num_heads: 2, decay: 'fixed', conv_size: 0 }],
  softmax: [{ num_heads: 2 }],
  gla: [{ num_heads: 2 }, { num_heads: 2, use_short_conv: true, conv_size: 3, norm: 'rmsnorm' }],
  based: [{ num_heads: 2, feature_dim: 4 }, { num_heads: 2, feature_dim: 4, window: 4 }],
  rwkv4: [{}],
  mamba: [{}, { bias: true }],
};

describe('stacked causal LM = its replicas alone', () => {
  const stackable = Object.values(MIXERS).filter((m) => m.stacks === true).map((m) => m.name);
  it('every mixer that stacks has cases here', () => {
    expect(stackable.sort()).toEqual(Object.keys(CASES).sort());
  });
  for (const [mixer, optsList] of Object.entries(CASES)) {
    for (const opts of optsList) {
      it(`${mixer} ${JSON.stringify(opts)}`, async () => {
        await expectStackEqualsAlone(mixer, opts, { B, T, V, D, seeds: SEEDS, labelled: (r) => 5 + 2 * r, rtol: 1e-5 });
      });
    }
  }
});
