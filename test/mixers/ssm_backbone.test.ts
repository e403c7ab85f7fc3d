// The SSM mixers (s4d, dss, h3, s5, mamba) beyond the registry contract: recurrent (one token at a
// time) = parallel for default and non-default options, the returned state holds exactly
// `stateSize` floats, option errors name the mixer and the fix, and each mixer trains in the LM
// backbone. Numerical references: ssm.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { MIXERS } from '../../src/mixers/registry.js';
import type { MixerState, TokenMixer } from '../../src/mixers/types.js';
import { Params } from '../../src/layers/params.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { AdamW } from '../../src/train/optim.js';
import { supervisedLoss } from '../../src/train/loss.js';
import { MetalaError } from '../../src/util/errors.js';
import { expectClose } from '../helpers/close.js';

const [B, T] = [2, 9];
const MINE = ['s4d', 'dss', 'h3', 's5', 'mamba'];

beforeAll(async () => {
  await initBackend('cpu');
});

function build(name: string, d: number, raw: Record<string, unknown> = {}, perturb = true, seed = 1): { mixer: TokenMixer; params: Params } {
  const def = MIXERS[name]!;
  const params = new Params(seed);
  const mixer = def.create(def.options.parse(raw) as never, { dModel: d, layer: 0, nLayers: 2, params: params.scope('m'), maxSeqLen: 16 });
  if (perturb) tf.tidy(() => params.vars.forEach((v) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', seed)))));
  return { mixer, params };
}

describe('recurrent (one token at a time) = parallel, and the state holds stateSize floats', () => {
  const variants: [string, Record<string, unknown>][] = [
    ...MINE.map((n): [string, Record<string, unknown>] => [n, {}]),
    ['s4d', { init: 'real', discretization: 'bilinear' }],
    ['dss', { version: 'exp', l_max: 32 }],
    ['h3', { head_dim: 4, init: 'real', discretization: 'zoh', d_state: 8 }],
    ['s5', { discretization: 'bilinear', activation: 'full_glu', clip_eigs: false, d_state: 32, blocks: 4 }],
    ['mamba', { conv_bias: false, bias: true, dt_rank: 3, d_conv: 2 }],
  ];
  it.each(variants)('%s %j', async (name, raw) => {
    const d = 8;
    const { mixer, params } = build(name, d, raw);
    const x = tf.randomNormal([B, T, d], 0, 1, 'float32', 3) as tf.Tensor3D;
    const full = (await tf.tidy(() => mixer.forward(x).y).array()) as number[][][];
    let state: MixerState | undefined;
    const steps: number[][][] = [];
    for (let t = 0; t < T; t++) {
      const r = tf.tidy(() => mixer.forward(tf.slice(x, [0, t, 0], [B, 1, d]) as tf.Tensor3D, { state, wantState: true }));
      tf.dispose(Object.values(state ?? {}));
      state = r.state;
      steps.push(((await r.y.array()) as number[][][]).map((row) => row[0]!));
      r.y.dispose();
    }
    const floats = Object.values(state ?? {}).reduce((a, t) => a + t.size, 0);
    expect(floats).toBe(B * MIXERS[name]!.stateSize(MIXERS[name]!.options.parse(raw) as never, d));
    tf.dispose(Object.values(state ?? {}));
    const stepped = full.map((_, b) => steps.map((s) => s[b]!));
    expectClose(stepped.flat(2), full.flat(2), { name: `${name} recurrent`, rtol: 2e-5 });
    x.dispose();
    params.dispose();
  });
});

describe('option errors', () => {
  const make = (name: string, raw: Record<string, unknown>) => () => build(name, 32, raw, false);
  it('name the mixer, the problem and the fix', () => {
    expect(make('h3', { head_dim: 3 })).toThrow(MetalaError);
    expect(make('h3', { head_dim: 3 })).toThrow(/model\.mixer: h3: d_model 32 is not a multiple of head_dim 3/);
    expect(make('s5', { d_state: 24, blocks: 8 })).toThrow(/model\.mixer: s5: d_state 24 must split into 8 blocks of even size/);
    expect(make('s4d', { d_state: 7 })).toThrow(/model\.mixer: s4d: d_state 7 must be even with init 'lin'/);
    expect(make('mamba', { dt_min: 0.5 })).toThrow(/model\.mixer: mamba: dt_min 0.5 exceeds dt_max 0.1/);
  });
});

describe('each SSM mixer trains in the LM backbone', () => {
  const [V, L, NB, d] = [16, 12, 4, 32];
  // A fixed batch of periodic sequences: next-token prediction is learnable from context.
  const ids = new Int32Array(NB * L);
  const labels = new Int32Array(NB * L);
  for (let b = 0; b < NB; b++) for (let t = 0; t < L; t++) ids[b * L + t] = (3 * b + [1, 5, 2, 7][t % 4]!) % V;
  for (let b = 0; b < NB; b++) for (let t = 0; t < L; t++) labels[b * L + t] = t + 1 < L ? ids[b * L + t + 1]! : -100;
  const batch = { ids, labels, batch: NB, seqLen: L };

  // Smaller states than the defaults keep this under a few seconds of cpu per mixer.
  const small: Record<string, Record<string, unknown>> = { s4d: { d_state: 16 }, dss: { d_state: 16 }, h3: { d_state: 16 }, s5: { d_state: 64 }, mamba: {} };

  it.each(MINE)('%s: 10 AdamW steps reduce the loss on a fixed batch', async (name) => {
    const mixer = { name, ...small[name] };
    const config = { ...lmSchema.parse({ d_model: d, n_layers: 1, vocab_size: V, mixer, max_seq_len: L }), vocab_size: V } as LmConfig;
    const model = new CausalLM(config, 7);
    const optim = new AdamW(model.params, { betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.01 });
    const vars = [...model.params.vars.values()];
    const losses: number[] = [];
    for (let step = 0; step < 10; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const s = model.supervised(batch, { training: true });
        return supervisedLoss(s);
      }, vars);
      const named: Record<string, tf.Tensor> = {};
      for (const [vn, gr] of Object.entries(grads)) named[model.params.byVarName.get(vn)!] = gr;
      const gn = optim.step(named, 1e-2, 1);
      losses.push((await value.data())[0]!);
      tf.dispose([value, gn, ...Object.values(grads)]);
    }
    if (process.env['LOSS_LOG'] === '1') console.log(name, losses.map((l) => l.toFixed(3)).join(' '));
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[9]!).toBeLessThan(losses[0]! - 0.3);
    optim.dispose();
    model.dispose();
  });
});
