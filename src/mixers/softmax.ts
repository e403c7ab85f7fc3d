// Softmax attention baseline (Vaswani et al. 2017) with rotary positions (Su et al. 2021): the
// "Transformer" rows of the paper's tables. Quadratic; not of the linear unified form (Tab. 2 row 1).
// State for decoding is the KV cache.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense } from '../layers/basic.js';
import { applyRotary } from '../layers/rotary.js';
import { defineMixer, type MixerContext, type TokenMixer } from './types.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    rotary: z.boolean().default(true),
    rotary_base: z.number().positive().default(10000),
    init_std: z.number().positive().default(0.02),
  })
  .strict();

export const softmax = defineMixer({
  name: 'softmax',
  family: 'softmax',
  cite: 'Vaswani et al. 2017 (attention); Su et al. 2021 (rotary positions)',
  form: { f_q: 'xW_Q', f_k: 'xW_K', f_v: 'xW_V', f_alpha: '— (softmax over all s ≤ t)', f_g: '1' },
  properties: { C0: false, C1: true, C2: true, C3: false },
  stacks: true,
  options,
  // KV cache grows with T: 2·d floats per token (reported per token).
  stateSize: (_o, d) => 2 * d,
  paramCount: (_o, d) => 4 * d * d,
  create: (o, ctx) => attention(o, ctx, true),
  createNonCausal: (o, ctx) => attention(o, ctx, false),
});

/**
 * Multi-head attention over x [B, T, d]; `causal` masks keys after each query (the LM and causal
 * classifier form) or not (DeiT's attention over all patches; no decoding state then).
 */
function attention(o: z.output<typeof options>, ctx: MixerContext, causal: boolean): TokenMixer {
  const d = ctx.dModel;
  const H = o.num_heads;
  const hd = d / H;
  if (!Number.isInteger(hd) || (o.rotary && hd % 2 !== 0)) throw new Error(`softmax: d_model ${d} does not split into ${H} heads of even size`);
  const p = ctx.params;
  const init = { kind: 'normal', std: o.init_std } as const;
  const wq = p.linear('q_proj', d, d, init).w;
  const wk = p.linear('k_proj', d, d, init).w;
  const wv = p.linear('v_proj', d, d, init).w;
  const wo = p.linear('out_proj', d, d, init).w;
  return {
    forward(x, opts = {}) {
      const [B, T] = x.shape;
      const past = opts.state;
      if (!causal && (past !== undefined || opts.wantState === true)) throw new Error('softmax: the non-causal form has no decoding state');
      const offset = past?.['k']?.shape[1] ?? 0;
      let q = tf.reshape(dense(x, wq), [B, T, H, hd]) as tf.Tensor4D;
      let k = tf.reshape(dense(x, wk), [B, T, H, hd]) as tf.Tensor4D;
      let v = tf.reshape(dense(x, wv), [B, T, H, hd]) as tf.Tensor4D;
      if (o.rotary) {
        q = applyRotary(q, offset, o.rotary_base);
        k = applyRotary(k, offset, o.rotary_base);
      }
      if (past !== undefined) {
        k = tf.concat([past['k'] as tf.Tensor4D, k], 1);
        v = tf.concat([past['v'] as tf.Tensor4D, v], 1);
      }
      const S = offset + T;
      const qh = tf.transpose(q, [0, 2, 1, 3]); // [B,H,T,hd]
      const kh = tf.transpose(k, [0, 2, 3, 1]); // [B,H,hd,S]
      const vh = tf.transpose(v, [0, 2, 1, 3]); // [B,H,S,hd]
      const scores = tf.mul(tf.matMul(qh, kh), 1 / Math.sqrt(hd)); // [B,H,T,S]
      // Causal: query t (absolute offset+t) sees keys s ≤ offset+t; non-causal: every key.
      let mask: tf.Tensor | undefined;
      if (causal) {
        const m = new Float32Array(T * S);
        for (let t = 0; t < T; t++) for (let s = offset + t + 1; s < S; s++) m[t * S + s] = -1e9;
        mask = tf.tensor(m, [1, 1, T, S]);
      }
      const probs = tf.softmax(mask === undefined ? scores : tf.add(scores, mask), -1);
      const out = tf.reshape(tf.transpose(tf.matMul(probs, vh), [0, 2, 1, 3]), [B, T, d]);
      const y = dense(out, wo) as tf.Tensor3D;
      return opts.wantState === true ? { y, state: { k, v } } : { y };
    },
  };
}
