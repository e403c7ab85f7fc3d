// The lean reverse pass (src/backend/lean_backward.ts) against tfjs's own: the same gradients, bit
// for bit (the same gradient functions in the same order), with a lower peak of live tensor bytes;
// and the causal LM's blocks, each in its own tidy, keep only what the tape saved.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { installLeanBackward, installLeanSaves } from '../../src/backend/lean_backward.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { crossEntropy } from '../../src/train/loss.js';
import { REPO } from '../helpers/golden.js';
import { batchOf } from '../helpers/stacked.js';
import { tinyConfig } from '../helpers/tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});
afterAll(() => {
  installLeanBackward(true);
  installLeanSaves(true);
});

/** A small MetaLA LM, one batch, and its training step profiled: every variable's gradient, peak bytes, kernels run. */
function lmStep(d: number, layers: number, [B, T, V]: [number, number, number], seed: number): { model: CausalLM; profiled: () => Promise<{ grads: Float32Array[]; peak: number; kernels: string[] }> } {
  const cfg = { ...lmSchema.parse({ d_model: d, n_layers: layers, vocab_size: V, max_seq_len: T, mixer: { name: 'metala', num_heads: 2 } }), vocab_size: V } as LmConfig;
  const model = new CausalLM(cfg, seed);
  const batch = batchOf(seed + 6, B * T, B, T, V);
  const vars = [...model.params.vars.values()];
  const profiled = async (): Promise<{ grads: Float32Array[]; peak: number; kernels: string[] }> => {
    let grads: Float32Array[] = [];
    const info = await tf.profile(async () => {
      const r = tf.variableGrads(() => {
        const s = model.supervised(batch, { training: true });
        return crossEntropy((s as { logits: tf.Tensor2D }).logits, s.targets as Int32Array);
      }, vars);
      grads = await Promise.all(vars.map(async (v) => (await r.grads[v.name]!.data()) as Float32Array));
      tf.dispose([r.value, ...Object.values(r.grads)]);
    });
    return { grads, peak: info.peakBytes, kernels: info.kernels.map((k) => k.name) };
  };
  return { model, profiled };
}

describe('lean backward pass', () => {
  it('gives tfjs\'s gradients exactly, at a lower peak of live bytes', async () => {
    const { model, profiled } = lmStep(32, 4, [4, 32, 64], 1);
    const vars = [...model.params.vars.values()];
    const run = async (on: boolean): Promise<{ grads: Float32Array[]; peak: number }> => {
      installLeanBackward(on);
      return profiled();
    };
    const before = tf.memory().numTensors;
    const tfjs = await run(false);
    const lean = await run(true);
    expect(tf.memory().numTensors).toBe(before);
    lean.grads.forEach((g, i) => expect(g, vars[i]!.name).toEqual(tfjs.grads[i]));
    console.log(`peak live bytes of a training step's gradients: tfjs ${tfjs.peak}, lean ${lean.peak}`);
    expect(lean.peak).toBeLessThan(0.9 * tfjs.peak);
    model.dispose();
  });

  it('saves tensors for the backward without Identity kernels or tape nodes, and shape-only ones as stand-ins: same gradients, lower peak, no leaks, second order intact', async () => {
    const { model, profiled } = lmStep(16, 2, [2, 16, 32], 2);
    const vars = [...model.params.vars.values()];
    const run = async (on: boolean): Promise<{ grads: Float32Array[]; peak: number; kernels: string[] }> => {
      installLeanSaves(on);
      const before = tf.memory().numTensors;
      const r = await profiled();
      expect(tf.memory().numTensors, `leaked tensors with lean saves ${on}`).toBe(before);
      return r;
    };
    for (const leanBackward of [true, false]) {
      installLeanBackward(leanBackward);
      const tfjs = await run(false);
      const lean = await run(true);
      lean.grads.forEach((g, i) => expect(g, vars[i]!.name).toEqual(tfjs.grads[i]));
      // tfjs clones every saved tensor; what is left are real clones (a transpose by the identity
      // permutation inside a matMul gradient).
      const identities = (k: string[]): number => k.filter((n) => n === 'Identity').length;
      expect(identities(tfjs.kernels)).toBeGreaterThan(20);
      expect(identities(lean.kernels)).toBeLessThan(identities(tfjs.kernels) / 8);
      // shape-only saves (the residual adds' inputs, …) no longer hold their buffers to the backward
      console.log(`peak live bytes, lean backward ${leanBackward}: tfjs saves ${tfjs.peak}, lean saves ${lean.peak}`);
      expect(lean.peak).toBeLessThan(0.95 * tfjs.peak);
    }
    // A gradient of a gradient still flows through saved tensors: d²/dx² of x³·sin(x) at x = 0.7.
    const x = tf.scalar(0.7);
    const f = (v: tf.Tensor): tf.Tensor => tf.mul(tf.pow(v, 3), tf.sin(v));
    const second = (await tf.grad((v: tf.Tensor) => tf.grad(f)(v))(x).data())[0]!;
    const xv = 0.7;
    const want = 6 * xv * Math.sin(xv) + 6 * xv * xv * Math.cos(xv) - xv ** 3 * Math.sin(xv);
    expect(Math.abs(second - want)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('METALA_LEAN_BACKWARD and METALA_LEAN_SAVES take on or off; anything else is one line, exit 2', () => {
    const { file } = tinyConfig();
    for (const name of ['METALA_LEAN_BACKWARD', 'METALA_LEAN_SAVES']) {
      const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'train', file, '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, [name]: 'yes' } });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('metala: '))).toEqual([`error: ${name}: 'yes' is not on or off. Unset it, or set on or off`]);
    }
  });
});
