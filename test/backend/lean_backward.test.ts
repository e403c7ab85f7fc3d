// The lean reverse pass (src/backend/lean_backward.ts) against tfjs's own: the same gradients, bit
// for bit (the same gradient functions in the same order), with a lower peak of live tensor bytes;
// and the causal LM's blocks, each in its own tidy, keep only what the tape saved.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { installLeanBackward } from '../../src/backend/lean_backward.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { crossEntropy } from '../../src/train/loss.js';
import { batchOf } from '../helpers/stacked.js';

beforeAll(async () => {
  await initBackend('cpu');
});
afterAll(() => installLeanBackward(true));

describe('lean backward pass', () => {
  it('gives tfjs\'s gradients exactly, at a lower peak of live bytes', async () => {
    const [B, T, V] = [4, 32, 64];
    const cfg = { ...lmSchema.parse({ d_model: 32, n_layers: 4, vocab_size: V, max_seq_len: T, mixer: { name: 'metala', num_heads: 2 } }), vocab_size: V } as LmConfig;
    const model = new CausalLM(cfg, 1);
    const batch = batchOf(7, B * T, B, T, V);
    const vars = [...model.params.vars.values()];
    const run = async (on: boolean): Promise<{ grads: Float32Array[]; peak: number }> => {
      installLeanBackward(on);
      let grads: Float32Array[] = [];
      const info = await tf.profile(async () => {
        const r = tf.variableGrads(() => {
          const s = model.supervised(batch, { training: true });
          return crossEntropy((s as { logits: tf.Tensor2D }).logits, s.targets as Int32Array);
        }, vars);
        grads = await Promise.all(vars.map(async (v) => (await r.grads[v.name]!.data()) as Float32Array));
        tf.dispose([r.value, ...Object.values(r.grads)]);
      });
      return { grads, peak: info.peakBytes };
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
});
