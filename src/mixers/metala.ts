// MetaLA token mixer (Chou et al., NeurIPS 2024; paper §5, Tab. 3, Eq. 21–22, App. A3), ported
// from the official BICLab/MetaLA `metala/modeling_metala.py::QVMetaLA_self_aug` @3353262.
// Unified form: f_q = xW_Q, f_k = 1 − α_t, f_v = xW_V, f_α = σ(xW_α)^{1/τ}, f_g = SiLU(xW_G + b_G).
// Switches for the paper's ablations (Tab. 8): self_aug, conv_size, use_key, decay, tau.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { gla } from '../ops/gated_recurrence/index.js';
import { dense, layerNorm, logSigmoid, mulSilu, silu } from '../layers/basic.js';
import { causalConv1d } from '../layers/short_conv.js';
import { perRow } from '../layers/replicas.js';
import { defineMixer, type MixerState } from './types.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** d_k / d: 0.5 in the official code; 1 in the paper's MQAR runs (App. A4: d_k = d_v = d). */
    key_dim_ratio: z.number().positive().max(4).default(0.5),
    /** Short causal conv width; 0 = off. 4 in the code, 2 in the paper's MQAR (App. A4). */
    conv_size: z.number().int().min(0).max(16).default(4),
    /** Self-augmentation term σ((q·(w_aug ⊙ k)) v) (Eq. 22). */
    self_aug: z.boolean().default(true),
    /** Ablation "w/ key": restore an independent key k = xW_K instead of 1 − α. */
    use_key: z.boolean().default(false),
    /** `dynamic`: α_t = σ(x_t W_α)^{1/τ}; `fixed`: one learned α per channel (RetNet-like, fails C1). */
    decay: z.enum(['dynamic', 'fixed']).default('dynamic'),
    /** Decay temperature τ (the code's `normalizer`, 16, as in GLA). */
    tau: z.number().positive().default(16),
    /** Std of the N(0, σ) init of every projection (HF `init_std`). */
    init_std: z.number().positive().default(0.02),
    /** Chunk size of the chunkwise GLA form (training / prefill); default: the op's per-backend choice. */
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

function dims(o: Opts, d: number): { dk: number; H: number; hk: number; hv: number } {
  const dk = Math.round(d * o.key_dim_ratio);
  return { dk, H: o.num_heads, hk: dk / o.num_heads, hv: d / o.num_heads };
}

export const metala = defineMixer({
  name: 'metala',
  family: 'linformer',
  cite: 'Chou et al. 2024, MetaLA (NeurIPS), Tab. 3 / Eq. 21–22; BICLab/MetaLA modeling_metala.py',
  form: { f_q: 'xW_Q', f_k: '1 − α_t', f_v: 'xW_V', f_alpha: 'σ(xW_α)^{1/τ}', f_g: 'SiLU(xW_G + b_G)' },
  properties: { C0: true, C1: true, C2: true, C3: true },
  stacks: true,
  options,
  stateSize: (o, d) => {
    const { H, hk, hv } = dims(o, d);
    return H * hk * hv + Math.max(0, o.conv_size - 1) * d;
  },
  // W_Q, W_α (d×d_k each), W_V, W_G, W_O (d×d each), b_G (d), conv (c·d), w_aug (d_k), [W_K (d×d_k)], [fixed α (d_k)]
  paramCount: (o, d) => {
    const { dk } = dims(o, d);
    return (
      2 * d * dk + 3 * d * d + d + o.conv_size * d + (o.self_aug ? dk : 0) + (o.use_key ? d * dk : 0) - (o.decay === 'fixed' ? d * dk - dk : 0)
    );
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const { dk, H, hk, hv } = dims(o, d);
    if (!Number.isInteger(hk) || !Number.isInteger(hv) || hk < 1) {
      throw new Error(`metala: d_model ${d} with key_dim_ratio ${o.key_dim_ratio} does not split into ${H} heads`);
    }
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const wq = p.linear('q_proj', d, dk, init).w;
    const wa = o.decay === 'dynamic' ? p.linear('k_gate', d, dk, init).w : undefined;
    // Fixed decay: logit per key channel, initialised so α^{τ} = σ(logit) spans (0.5, 0.999) like RetNet's γ.
    const aFixed =
      o.decay === 'fixed'
        ? p.add('decay_logit', [dk], {
            kind: 'custom',
            values: (n) => Float32Array.from({ length: n }, (_, i) => Math.log(1 / (1 - 0.5 - (0.499 * i) / Math.max(1, n - 1)) - 1)),
          }, { decay: false })
        : undefined;
    const wk = o.use_key ? p.linear('k_proj', d, dk, init).w : undefined;
    const wv = p.linear('v_proj', d, d, init).w;
    const g = p.linear('g_proj', d, d, init, true);
    const wo = p.linear('out_proj', d, d, init).w;
    // PyTorch Conv1d default init: kaiming_uniform(a=√5) ⇒ U(±1/√fan_in), fan_in = c for depthwise.
    const conv =
      o.conv_size > 0
        ? p.add('conv1d.weight', [o.conv_size, d], { kind: 'uniform', bound: 1 / Math.sqrt(o.conv_size) }, { layout: 'linear', fileShape: [d, 1, o.conv_size], decay: false })
        : undefined;
    const wAug = o.self_aug ? p.add('aug_balance', [dk], { kind: 'zeros' }, { decay: false }) : undefined;

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const state: MixerState = {};
        // 1. short causal conv + SiLU on all d channels; projections read u, the residual reads x.
        let u: tf.Tensor3D = x;
        if (conv !== undefined) {
          const c = causalConv1d(x, conv, opts.state?.['conv'] as tf.Tensor3D | undefined);
          u = silu(c.y) as tf.Tensor3D;
          if (opts.wantState === true) state['conv'] = c.cache;
        }
        // 2. projections: q [B,T,d_k], log decay gk = logσ(xW_α)/τ [B,T,d_k], v [B,T,d]
        const q = dense(u, wq);
        const gk =
          wa !== undefined
            ? tf.div(logSigmoid(dense(u, wa)), o.tau)
            : tf.broadcastTo(perRow(tf.div(logSigmoid(aFixed!), o.tau), B, [1, dk]), [B, T, dk]);
        // k = 1 − α = −expm1(gk), exact for α near 1 (the common case: τ = 16).
        const k = wk !== undefined ? dense(u, wk) : tf.neg(tf.expm1(gk));
        const v = dense(u, wv);
        const q4 = tf.reshape(q, [B, T, H, hk]) as tf.Tensor4D;
        const k4 = tf.reshape(k, [B, T, H, hk]) as tf.Tensor4D;
        const g4 = tf.reshape(gk, [B, T, H, hk]) as tf.Tensor4D;
        const v4 = tf.reshape(v, [B, T, H, hv]) as tf.Tensor4D;
        // 3. gated linear attention; scale (d'_k)^{-1/2} is fla's default.
        // Porting note: the paper has no scale; the official code inherits fla's, so we follow the code.
        const r = gla(q4, k4, v4, g4, {
          initialState: opts.state?.['S'] as tf.Tensor4D | undefined,
          wantState: opts.wantState === true,
          chunkSize: o.chunk_size,
        });
        let out: tf.Tensor = r.o; // [B,T,H,hv]
        if (opts.wantState === true && r.finalState !== undefined) state['S'] = r.finalState;
        // 4. self-augmentation: o_h += σ((Σ_i q_i k_i w_i) · v_h), q unscaled (official code).
        if (wAug !== undefined) {
          const s = tf.sum(tf.mul(tf.mul(q4, k4), perRow(wAug, B, [1, H, hk])), -1, true); // [B,T,H,1]
          out = tf.add(out, tf.sigmoid(tf.mul(s, v4)));
        }
        // 5. per-head LayerNorm without affine (eps 1e-5), merge heads, SiLU output gate, W_O.
        const o2 = tf.reshape(layerNorm(out, 1e-5), [B, T, d]);
        const y = dense(mulSilu(o2, dense(u, g.w, g.b)), wo) as tf.Tensor3D;
        return opts.wantState === true ? { y, state } : { y };
      },
    };
  },
});
