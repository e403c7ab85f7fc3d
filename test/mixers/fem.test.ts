// The Free Energy Mixer beyond the registry contract (which runs only the default, softmax prior) and
// the golden fixtures (one parallel pass each): for every prior, with and without the free-energy
// branch and the TDC module, the causal form is causal and prefill + token-by-token decoding equals one
// parallel pass; the rnn_softmax prior's reference shift (aft_shift: sequence_max) differs from ours
// only through eps, leaks later tokens into earlier outputs as the reference does, and has no decoding.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Params } from '../../src/layers/params.js';
import { fem } from '../../src/mixers/fem.js';
import type { MixerState, TokenMixer } from '../../src/mixers/types.js';

const D = 32;
const B = 2;
const T = 12;

beforeAll(async () => {
  await initBackend('cpu');
});

function build(extra: Record<string, unknown>, seed = 2): { mixer: TokenMixer; params: Params; opts: Record<string, unknown> } {
  const params = new Params(seed);
  const opts = fem.options.parse({ num_heads: 2, conv_hidden: 8, ssm_rank: 4, ...extra }) as Record<string, unknown>;
  const mixer = fem.create(opts as never, { dModel: D, layer: 0, nLayers: 1, params: params.scope(''), maxSeqLen: 64 });
  tf.tidy(() => {
    for (const v of params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', seed + 1)));
  });
  expect(params.count()).toBe(fem.paramCount(opts as never, D));
  return { mixer, params, opts };
}

const rows = (t: tf.Tensor, from: number, n: number): tf.Tensor => tf.slice(t, [0, from, 0], [t.shape[0]!, n, t.shape[2]!]);
const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
const disposeState = (s: MixerState | undefined): void => tf.dispose(Object.values(s ?? {}));

const CASES: Record<string, unknown>[] = [];
for (const prior of ['softmax', 'linear', 'gla', 'rnn_softmax', 'mamba']) {
  CASES.push({ prior });
  CASES.push({ prior, use_temperature: false, use_lse: false, use_conv: false, use_outer_gate: false });
}
CASES.push({ prior: 'gla', use_temperature: false }); // the log-sum-exp read at β = 1

describe.each(CASES.map((c) => [JSON.stringify(c), c] as const))('fem %s', (_label, extra) => {
  it('is causal, prefill + decode = one parallel pass, and every parameter gets a finite gradient', () => {
    const { mixer, params, opts } = build(extra);
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 5) as tf.Tensor3D;
    const y = mixer.forward(x).y;
    // Causality: new tokens after t0 leave rows ≤ t0 unchanged.
    const t0 = 5;
    const x2 = tf.concat([rows(x, 0, t0 + 1), tf.randomNormal([B, T - t0 - 1, D], 0, 1, 'float32', 6)], 1) as tf.Tensor3D;
    expect(maxDiff(rows(mixer.forward(x2).y, 0, t0 + 1), rows(y, 0, t0 + 1))).toBeLessThan(1e-5);
    // Prefill 5 tokens with state, then decode one at a time.
    const pre = mixer.forward(rows(x, 0, 5) as tf.Tensor3D, { wantState: true });
    expect(maxDiff(pre.y, rows(y, 0, 5))).toBeLessThan(2e-5);
    let state = pre.state!;
    const size = Object.values(state).reduce((n, t) => n + t.size, 0);
    // The state of the softmax prior grows with the tokens (its per-token size is what stateSize gives).
    const perLayer = fem.stateSize(opts as never, D);
    if (extra['prior'] === 'softmax') expect(size).toBeGreaterThan(0);
    else expect(size).toBeLessThanOrEqual(B * perLayer + 1);
    for (let t = 5; t < T; t++) {
      const r = mixer.forward(rows(x, t, 1) as tf.Tensor3D, { state, wantState: true });
      expect(maxDiff(r.y, rows(y, t, 1)), `token ${t}`).toBeLessThan(2e-4);
      disposeState(state);
      state = r.state!;
    }
    disposeState(state);
    const vars = [...params.vars.values()];
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(mixer.forward(x).y)) as tf.Scalar, vars);
    expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
    for (const [name, g] of Object.entries(grads)) expect(Number.isFinite(tf.max(tf.abs(g)).dataSync()[0]!), name).toBe(true);
    tf.dispose([x, x2, y, value, ...Object.values(grads)]);
    params.dispose();
  });
});

describe('fem rnn_softmax: aft_shift', () => {
  it('sequence_max (the reference) differs from running_max only through eps, and is not causal', () => {
    const run = (aft_shift: string, eps: number, x: tf.Tensor3D): tf.Tensor => {
      const { mixer, params } = build({ prior: 'rnn_softmax', aft_shift, eps }, 4);
      const y = mixer.forward(x).y;
      params.dispose();
      return y;
    };
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 8) as tf.Tensor3D;
    const scale = tf.max(tf.abs(run('running_max', 1e-6, x))).dataSync()[0]!;
    // With eps → 0 the shift cancels exactly; at a large eps the two shifts weigh eps differently.
    expect(maxDiff(run('sequence_max', 1e-12, x), run('running_max', 1e-12, x)) / scale).toBeLessThan(1e-5);
    expect(maxDiff(run('sequence_max', 0.05, x), run('running_max', 0.05, x)) / scale).toBeGreaterThan(1e-3);
    // The reference's shift sees later tokens: a large key late in the sequence moves earlier rows.
    const late = tf.concat([rows(x, 0, T - 1), tf.mul(rows(x, T - 1, 1), 20)], 1) as tf.Tensor3D;
    expect(maxDiff(rows(run('sequence_max', 0.05, late), 0, T - 1), rows(run('sequence_max', 0.05, x), 0, T - 1))).toBeGreaterThan(1e-4);
    expect(maxDiff(rows(run('running_max', 0.05, late), 0, T - 1), rows(run('running_max', 0.05, x), 0, T - 1))).toBeLessThan(1e-6);
    tf.dispose([x, late]);
  });

  it('sequence_max refuses decoding with a one-line reason', () => {
    const { mixer, params } = build({ prior: 'rnn_softmax', aft_shift: 'sequence_max' });
    expect(() => mixer.forward(tf.zeros([1, 3, D]) as tf.Tensor3D, { wantState: true })).toThrow(/aft_shift: sequence_max has no decoding state.*use running_max/);
    params.dispose();
  });
});
