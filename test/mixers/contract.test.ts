// The token-mixer contract, checked for every entry of the registry (style-models.md §8.8): shape,
// causality, recurrent (one token at a time, with state) = parallel, finite gradients for every
// parameter, no tensor leak, and the parameter count of the mixer's own formula.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { MIXERS } from '../../src/mixers/registry.js';
import type { MixerDef, MixerState, TokenMixer } from '../../src/mixers/types.js';
import { Params } from '../../src/layers/params.js';

const D = 32;
const B = 2;
const T = 11;

beforeAll(async () => {
  await initBackend('cpu');
});

function build(def: MixerDef, seed = 1): { mixer: TokenMixer; params: Params; opts: Record<string, unknown> } {
  const params = new Params(seed);
  const opts = def.options.parse({}) as Record<string, unknown>;
  const mixer = def.create(opts as never, { dModel: D, layer: 0, nLayers: 2, params: params.scope('m'), maxSeqLen: 64 });
  // Non-default weights everywhere (zero-initialised gains would hide paths).
  tf.tidy(() => {
    for (const v of params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', seed)));
  });
  return { mixer, params, opts };
}

function disposeState(s: MixerState | undefined): void {
  for (const t of Object.values(s ?? {})) t.dispose();
}

describe.each(Object.values(MIXERS).map((m) => [m.name, m] as const))('mixer %s', (_name, def) => {
  it('maps [B,T,D] to [B,T,D], is causal, and recurrent = parallel', async () => {
    const { mixer, params } = build(def);
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 7) as tf.Tensor3D;
    const y = tf.tidy(() => mixer.forward(x).y);
    expect(y.shape).toEqual([B, T, D]);
    const yv = (await y.array()) as number[][][];
    // Causality: perturb x[:, t0+1:], y[:, :t0+1] must not move.
    const t0 = 4;
    const x2 = tf.tidy(() => tf.concat([tf.slice(x, [0, 0, 0], [B, t0 + 1, D]), tf.randomNormal([B, T - t0 - 1, D], 0, 1, 'float32', 9)], 1)) as tf.Tensor3D;
    const y2 = (await tf.tidy(() => mixer.forward(x2).y).array()) as number[][][];
    for (let b = 0; b < B; b++) for (let t = 0; t <= t0; t++) for (let d = 0; d < D; d++) expect(Math.abs(y2[b]![t]![d]! - yv[b]![t]![d]!)).toBeLessThan(1e-5);
    // Recurrent: one token at a time from the returned state.
    let state: MixerState | undefined;
    let maxErr = 0;
    for (let t = 0; t < T; t++) {
      const xt = tf.slice(x, [0, t, 0], [B, 1, D]) as tf.Tensor3D;
      const r = tf.tidy(() => {
        const o = mixer.forward(xt, { state, wantState: true });
        return { y: o.y, state: o.state! };
      });
      disposeState(state);
      state = r.state;
      const yt = (await r.y.array()) as number[][][];
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) maxErr = Math.max(maxErr, Math.abs(yt[b]![0]![d]! - yv[b]![t]![d]!));
      xt.dispose();
      r.y.dispose();
    }
    disposeState(state);
    expect(maxErr).toBeLessThan(2e-4);
    // Prefill with state, then continue: same as one pass.
    const pre = tf.tidy(() => {
      const o = mixer.forward(tf.slice(x, [0, 0, 0], [B, 6, D]) as tf.Tensor3D, { wantState: true });
      return o.state!;
    });
    const rest = (await tf.tidy(() => mixer.forward(tf.slice(x, [0, 6, 0], [B, T - 6, D]) as tf.Tensor3D, { state: pre }).y).array()) as number[][][];
    disposeState(pre);
    for (let b = 0; b < B; b++) for (let t = 6; t < T; t++) for (let d = 0; d < D; d++) expect(Math.abs(rest[b]![t - 6]![d]! - yv[b]![t]![d]!)).toBeLessThan(2e-4);
    tf.dispose([x, x2, y]);
    params.dispose();
  });

  it('has finite gradients for every parameter and leaks no tensors', async () => {
    const { mixer, params } = build(def, 3);
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 5) as tf.Tensor3D;
    const vars = [...params.vars.values()];
    const step = async (): Promise<number[]> => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(mixer.forward(x).y)) as tf.Scalar, vars);
      const sums = Object.values(grads).map((g) => tf.tidy(() => tf.sum(tf.abs(g))));
      const norms = await Promise.all(sums.map(async (s) => (await s.data())[0]!));
      tf.dispose(sums);
      value.dispose();
      tf.dispose(Object.values(grads));
      return norms;
    };
    const norms = await step();
    expect(norms.length).toBe(vars.length);
    for (const n of norms) expect(Number.isFinite(n)).toBe(true);
    expect(norms.filter((n) => n > 0).length).toBe(vars.length);
    const before = tf.memory().numTensors;
    await step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    params.dispose();
  });

  it('parameter count matches its formula', () => {
    const { params, opts } = build(def);
    expect(params.count()).toBe(def.paramCount(opts as never, D));
    params.dispose();
  });
});
