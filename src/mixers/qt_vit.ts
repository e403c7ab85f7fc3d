// QT-ViT's quadratic Taylor linear attention, fast form (Xu et al., NeurIPS 2024; docs/seed-systems.md
// §3). The second-order Taylor expansion of exp(q·k/√d) keeps only the squares of the quadratic term:
//   ψ(x) = [α x_1², …, α x_d², β (4/d)^{1/4} x_1, …, β (4/d)^{1/4} x_d, γ, 1] / √2,
//   sim(q, k) = ψ(q)·ψ(k) = ½(α² Σ_i q_i² k_i² + β² (2/√d) q·k + γ² + 1),
// and the normalised read-out o_t = ψ(q_t)ᵀ Σ_i ψ(k_i) v_iᵀ / (ψ(q_t)ᵀ Σ_i ψ(k_i) + ε), then W_O.
// With β = 0 (the paper's training setting, the default) ψ has d + 2 features and sim > 0.
// Unified form: f_q = ψ(q_t), f_k = ψ(k_i), f_v = v_i, f_α = 1, f_g = 1; the normaliser rides as an
// extra value column of ones (as in linear_attn.ts). No authors' code exists: test/mixers/qt_vit.test.ts
// checks the layer against a float64 evaluation of sim directly.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense } from '../layers/basic.js';
import { simpleGla } from '../ops/simple_gla/index.js';
import { perHead } from './common.js';
import { defineMixer, type MixerContext, type TokenMixer } from './types.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /**
     * The first-order term: `zero` (β = 0, the paper's training setting: ψ = [αx², γ, 1]/√2) or
     * `learned` (β per head, init 1: the full second-order Taylor form with the cross terms dropped).
     */
    beta: z.enum(['zero', 'learned']).default('zero'),
    /** Initial α and γ per head (ours: the paper leaves them open; α = 1, γ = 1 gives sim ≈ 1 + ½Σq²k²). */
    alpha_init: z.number().default(1),
    gamma_init: z.number().default(1),
    /** ε in the normaliser. */
    eps: z.number().positive().default(1e-6),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

/** Features per head of ψ: d squares, [d linear terms,] γ and 1. */
export const qtFeatures = (o: Opts, d: number): number => (o.beta === 'learned' ? 2 * d : d) + 2;

function qtLayer(o: Opts, ctx: MixerContext, causal: boolean): TokenMixer {
  const D = ctx.dModel;
  const H = o.num_heads;
  const d = perHead('qt_vit', D, H, 'model width', D);
  const p = ctx.params;
  const init = { kind: 'normal', std: o.init_std } as const;
  const wq = p.linear('q_proj', D, D, init).w;
  const wk = p.linear('k_proj', D, D, init).w;
  const wv = p.linear('v_proj', D, D, init).w;
  const wo = p.linear('o_proj', D, D, init).w;
  const alpha = p.add('alpha', [H], { kind: 'const', value: o.alpha_init }, { decay: false });
  const gamma = p.add('gamma', [H], { kind: 'const', value: o.gamma_init }, { decay: false });
  const beta = o.beta === 'learned' ? p.add('beta', [H], { kind: 'ones' }, { decay: false }) : undefined;
  const perHeadCol = (a: tf.Tensor): tf.Tensor => tf.reshape(a, [1, 1, H, 1]);

  /** ψ(x) for x [B, T, H, d] → [B, T, H, F]. */
  const psi = (x: tf.Tensor4D): tf.Tensor4D => {
    const [B, T] = x.shape;
    const parts: tf.Tensor[] = [tf.mul(perHeadCol(alpha), tf.square(x))];
    if (beta !== undefined) parts.push(tf.mul(tf.mul(perHeadCol(beta), Math.pow(4 / d, 0.25)), x));
    parts.push(tf.mul(perHeadCol(gamma), tf.ones([B, T, H, 1])), tf.ones([B, T, H, 1]));
    return tf.div(tf.concat(parts, 3), Math.SQRT2) as tf.Tensor4D;
  };

  return {
    forward(x, opts = {}) {
      const [B, T] = x.shape;
      if (!causal && (opts.state !== undefined || opts.wantState === true)) throw new Error('qt_vit: the non-causal form has no decoding state');
      const heads = (t: tf.Tensor): tf.Tensor4D => tf.reshape(t, [B, T, H, d]) as tf.Tensor4D;
      const fq = psi(heads(dense(x, wq)));
      const fk = psi(heads(dense(x, wk)));
      // [v | 1]: one pass gives numerator and normaliser.
      const v1 = tf.concat([heads(dense(x, wv)), tf.ones([B, T, H, 1])], 3) as tf.Tensor4D;
      let num: tf.Tensor4D;
      let state: tf.Tensor4D | undefined;
      if (causal) {
        const r = simpleGla(fq, fk, v1, tf.zeros([B, T, H]) as tf.Tensor3D, {
          scale: 1,
          initialState: opts.state?.['S'] as tf.Tensor4D | undefined,
          wantState: opts.wantState === true,
          chunkSize: o.chunk_size,
        });
        num = r.o;
        state = r.finalState;
      } else {
        // Σ_i ψ(k_i) [v_i | 1]ᵀ over the whole sequence [B, H, F, d+1], read by every position.
        const S = tf.matMul(tf.transpose(fk, [0, 2, 3, 1]), tf.transpose(v1, [0, 2, 1, 3]));
        num = tf.transpose(tf.matMul(tf.transpose(fq, [0, 2, 1, 3]), S), [0, 2, 1, 3]) as tf.Tensor4D;
      }
      const out = tf.div(tf.slice(num, [0, 0, 0, 0], [B, T, H, d]), tf.add(tf.slice(num, [0, 0, 0, d], [B, T, H, 1]), o.eps));
      const y = dense(tf.reshape(out, [B, T, D]), wo) as tf.Tensor3D;
      return opts.wantState === true ? { y, state: { S: state! } } : { y };
    },
  };
}

export const qtVit = defineMixer({
  name: 'qt_vit',
  family: 'linformer',
  cite: 'Xu et al. 2024, QT-ViT: Improving Linear Attention in ViT with Quadratic Taylor Expansion (NeurIPS); no code published',
  form: {
    f_q: 'ψ(xW_Q), ψ(x) = [αx², β(4/d)^{1/4}x, γ, 1]/√2 (β = 0 by default)',
    f_k: 'ψ(xW_K)',
    f_v: 'xW_V',
    f_alpha: '1 (no decay; normaliser Σ ψ(k_i))',
    f_g: '1',
  },
  properties: { C0: true, C1: false, C2: true, C3: false },
  options,
  // Per head: S [F, d] and the normaliser column [F].
  stateSize: (o, D) => {
    const d = D / o.num_heads;
    return o.num_heads * qtFeatures(o, d) * (d + 1);
  },
  // W_Q, W_K, W_V, W_O (D×D), α and γ (and β) per head.
  paramCount: (o, D) => 4 * D * D + o.num_heads * (o.beta === 'learned' ? 3 : 2),
  create: (o, ctx) => qtLayer(o, ctx, true),
  createNonCausal: (o, ctx) => qtLayer(o, ctx, false),
});
