// Gated Linear Attention token mixer (Yang et al., ICML 2024, "Gated Linear Attention Transformers
// with Hardware-Efficient Training"; paper-metala.md §1.3 Tab. A1 GLA row), following fla
// `layers/gla.py`: q = xW_Q, k = xW_K (d_k = d/2), v = xW_V, low-rank log decay
// g_t = logσ(x W_α¹ W_α² + b_α)/τ, S_t = diag(e^{g_t}) S_{t−1} + k_tᵀv_t,
// o = RMSNorm_head(q S) ⊙ SiLU(x W_r), y = o W_O. Optional short convs on q, k, v (fla: off).
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { gla as glaOp } from '../ops/gated_recurrence/index.js';
import { dense, layerNorm, logSigmoid, mulSilu, rmsNorm } from '../layers/basic.js';
import { perRow } from '../layers/replicas.js';
import { defineMixer, type MixerState } from './types.js';
import { convTaps, qkvProjections, shortConv } from './common.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** d_k / d (fla `expand_k` 0.5; the paper's MQAR runs use 1, App. A4). */
    key_dim_ratio: z.number().positive().max(4).default(0.5),
    /** d_v / d (fla `expand_v`). */
    value_dim_ratio: z.number().positive().max(4).default(1),
    /** Rank r of the decay projection W_α¹ (d×r) W_α² (r×d_k). */
    gate_low_rank_dim: z.number().int().positive().default(16),
    /** τ in g = logσ(·)/τ: keeps decays near 1 (fla `gate_logit_normalizer`). */
    gate_logit_normalizer: z.number().positive().default(16),
    /** Lower clamp of the log decay (fla `clamp_min`); off by default. */
    clamp_min: z.number().max(0).optional(),
    use_short_conv: z.boolean().default(false),
    conv_size: z.number().int().min(1).max(16).default(4),
    use_output_gate: z.boolean().default(true),
    /** Porting note: the paper's table has a gate bias b_r, fla has none; we follow fla by default. */
    output_gate_bias: z.boolean().default(false),
    /** Per-head output norm (fla: RMSNorm with a weight; `layernorm`: affine-free, like MetaLA's code). */
    norm: z.enum(['rmsnorm', 'layernorm']).default('rmsnorm'),
    norm_eps: z.number().positive().default(1e-5),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

function dims(o: Opts, d: number): { dk: number; dv: number } {
  return { dk: d * o.key_dim_ratio, dv: d * o.value_dim_ratio };
}

export const gla = defineMixer({
  name: 'gla',
  family: 'linformer',
  cite: 'Yang et al. 2024, Gated Linear Attention Transformers (ICML); fla-org/flash-linear-attention fla/layers/gla.py',
  form: { f_q: 'xW_Q', f_k: 'xW_K', f_v: 'xW_V', f_alpha: 'σ(x W_α¹ W_α² + b_α)^{1/τ}', f_g: 'SiLU(xW_r) (after per-head RMSNorm)' },
  properties: { C0: true, C1: true, C2: true, C3: false },
  stacks: true,
  options,
  stateSize: (o, d) => {
    const { dk, dv } = dims(o, d);
    return (dk * dv) / o.num_heads + (o.use_short_conv ? (o.conv_size - 1) * (2 * dk + dv) : 0);
  },
  // W_Q, W_K (d×d_k), W_V (d×d_v), W_α¹ (d×r), W_α² (r×d_k) + b_α, [W_r (d×d_v) (+ b_r)], [norm weight d_v/H],
  // [convs c·(2d_k + d_v)], W_O (d_v×d). Defaults at d_k = d/2: 4d² + 24.5d + d/H (paper: "4d² + 24d").
  paramCount: (o, d) => {
    const { dk, dv } = dims(o, d);
    const r = o.gate_low_rank_dim;
    return (
      2 * d * dk + d * dv + d * r + r * dk + dk + (o.use_output_gate ? d * dv + (o.output_gate_bias ? dv : 0) : 0) + (o.norm === 'rmsnorm' ? dv / o.num_heads : 0) + (o.use_short_conv ? o.conv_size * (2 * dk + dv) : 0) + dv * d
    );
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const H = o.num_heads;
    const { dk, dv } = dims(o, d);
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const { wq, wk, wv, hk, hv } = qkvProjections('gla', p, d, H, dk, dv, o.init_std);
    const g = o.use_output_gate ? p.linear('g_proj', d, dv, init, o.output_gate_bias) : undefined;
    const cq = o.use_short_conv ? convTaps(p, 'q_conv1d', o.conv_size, dk) : undefined;
    const ck = o.use_short_conv ? convTaps(p, 'k_conv1d', o.conv_size, dk) : undefined;
    const cv = o.use_short_conv ? convTaps(p, 'v_conv1d', o.conv_size, dv) : undefined;
    // fla: nn.Sequential(Linear(d, r, bias=False), Linear(r, d_k, bias=True)) named gk_proj.0 / gk_proj.1.
    const wa1 = p.linear('gk_proj.0', d, o.gate_low_rank_dim, init).w;
    const a2 = p.linear('gk_proj.1', o.gate_low_rank_dim, dk, init, true);
    const wo = p.linear('o_proj', dv, d, init).w;
    const normW =
      o.norm === 'rmsnorm' ? p.add(g !== undefined ? 'g_norm_swish_gate.weight' : 'g_norm.weight', [hv], { kind: 'ones' }, { decay: false }) : undefined;

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const prev = opts.state;
        const next: MixerState | undefined = opts.wantState === true ? {} : undefined;
        // With short convs fla applies conv + SiLU to each projection; without, q, k, v stay linear.
        const conv = cq !== undefined;
        const q = shortConv(dense(x, wq) as tf.Tensor3D, cq, conv, 'conv_q', prev, next);
        const k = shortConv(dense(x, wk) as tf.Tensor3D, ck, conv, 'conv_k', prev, next);
        const v = shortConv(dense(x, wv) as tf.Tensor3D, cv, conv, 'conv_v', prev, next);
        // Log decay from the un-convolved input, as fla: [B,T,d_k], ≤ 0.
        let gk = tf.div(logSigmoid(dense(dense(x, wa1), a2.w, a2.b)), o.gate_logit_normalizer);
        if (o.clamp_min !== undefined) gk = tf.maximum(gk, o.clamp_min);
        const r = glaOp(
          tf.reshape(q, [B, T, H, hk]) as tf.Tensor4D,
          tf.reshape(k, [B, T, H, hk]) as tf.Tensor4D,
          tf.reshape(v, [B, T, H, hv]) as tf.Tensor4D,
          tf.reshape(gk, [B, T, H, hk]) as tf.Tensor4D,
          { initialState: prev?.['S'] as tf.Tensor4D | undefined, wantState: next !== undefined, chunkSize: o.chunk_size },
        );
        if (next !== undefined) next['S'] = r.finalState!;
        let out: tf.Tensor = normW !== undefined ? tf.mul(rmsNorm(r.o, o.norm_eps), perRow(normW, B, [1, 1, hv])) : layerNorm(r.o, o.norm_eps);
        if (g !== undefined) out = mulSilu(out, tf.reshape(dense(x, g.w, g.b), [B, T, H, hv]));
        const y = dense(tf.reshape(out, [B, T, dv]), wo) as tf.Tensor3D;
        return next !== undefined ? { y, state: next } : { y };
      },
    };
  },
});
