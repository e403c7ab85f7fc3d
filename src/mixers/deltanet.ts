// DeltaNet token mixer (Schlag et al. 2021; Yang et al., NeurIPS 2024, "Parallelizing Linear
// Transformers with the Delta Rule over Sequence Length"), following fla `layers/delta_net.py`:
// q, k = L2norm(SiLU(conv(xW_Q|K))), v = SiLU(conv(xW_V)), β = σ(xW_β) per head,
// S_t = S_{t−1} + β_t k_tᵀ(v_t − k_t S_{t−1}), o = RMSNorm_head(q S) [⊙ SiLU(xW_G)], y = o W_O.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { deltaRule } from '../ops/delta_rule/index.js';
import { dense, mulSilu, rmsNorm } from '../layers/basic.js';
import { convTaps, l2Normalize, qkvProjections, shortConv } from './common.js';
import { defineMixer, type MixerState } from './types.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** d_k / d (fla `expand_k`). */
    key_dim_ratio: z.number().positive().max(4).default(1),
    /** d_v / d (fla `expand_v`). */
    value_dim_ratio: z.number().positive().max(4).default(1),
    /** β_t = σ(x W_β); false: β = 1 (the original fast-weight update). */
    use_beta: z.boolean().default(true),
    /** Short causal convs on q, k, v (fla default on; "crucial to the performance"). */
    use_short_conv: z.boolean().default(true),
    conv_size: z.number().int().min(1).max(16).default(4),
    /** Output gate RMSNorm(o) ⊙ SiLU(x W_G) (fla default off). */
    use_gate: z.boolean().default(false),
    qk_activation: z.enum(['silu', 'relu', 'elu', 'identity']).default('silu'),
    qk_norm: z.enum(['l2', 'sum']).default('l2'),
    /** β ∈ (0, 2): allows negative eigenvalues of the transition (Grazzi et al. 2024). */
    allow_neg_eigval: z.boolean().default(false),
    norm_eps: z.number().positive().default(1e-5),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

function dims(o: Opts, d: number): { dk: number; dv: number; hk: number; hv: number } {
  const dk = d * o.key_dim_ratio;
  const dv = d * o.value_dim_ratio;
  return { dk, dv, hk: dk / o.num_heads, hv: dv / o.num_heads };
}

export const deltanet = defineMixer({
  name: 'deltanet',
  family: 'delta',
  cite: 'Yang et al. 2024, Parallelizing Linear Transformers with the Delta Rule (NeurIPS); fla-org/flash-linear-attention fla/layers/delta_net.py',
  form: { f_q: 'L2(SiLU(conv(xW_Q)))', f_k: 'L2(SiLU(conv(xW_K)))', f_v: 'SiLU(conv(xW_V))', f_alpha: 'I − β_t k_tᵀk_t (β_t = σ(xW_β))', f_g: '1 (optional SiLU(xW_G))' },
  // Not in the paper's Tab. 2; the delta rule erases (C1) with Q and K but no decay (Q, K group).
  properties: { C0: true, C1: true, C2: true, C3: false },
  options,
  stateSize: (o, d) => {
    const { dk, dv, hk, hv } = dims(o, d);
    return o.num_heads * hk * hv + (o.use_short_conv ? (o.conv_size - 1) * (2 * dk + dv) : 0);
  },
  // W_Q, W_K (d×d_k), W_V (d×d_v), W_β (d×H), convs c·(2d_k + d_v), [W_G (d×d_v)], norm weight (d_v/H), W_O (d_v×d)
  paramCount: (o, d) => {
    const { dk, dv, hv } = dims(o, d);
    return (
      2 * d * dk + d * dv + (o.use_beta ? d * o.num_heads : 0) + (o.use_short_conv ? o.conv_size * (2 * dk + dv) : 0) + (o.use_gate ? d * dv : 0) + hv + dv * d
    );
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const H = o.num_heads;
    const { dk, dv } = dims(o, d);
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const { wq, wk, wv, hk, hv } = qkvProjections('deltanet', p, d, H, dk, dv, o.init_std);
    const wb = o.use_beta ? p.linear('b_proj', d, H, init).w : undefined;
    const cq = o.use_short_conv ? convTaps(p, 'q_conv1d', o.conv_size, dk) : undefined;
    const ck = o.use_short_conv ? convTaps(p, 'k_conv1d', o.conv_size, dk) : undefined;
    const cv = o.use_short_conv ? convTaps(p, 'v_conv1d', o.conv_size, dv) : undefined;
    const wg = o.use_gate ? p.linear('g_proj', d, dv, init).w : undefined;
    const normW = p.add('o_norm.weight', [hv], { kind: 'ones' }, { decay: false });
    const wo = p.linear('o_proj', dv, d, init).w;
    // fla: the q/k convs carry SiLU only when qk_activation is silu; v always gets SiLU.
    const qkSilu = o.qk_activation === 'silu';

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const prev = opts.state;
        const next: MixerState | undefined = opts.wantState === true ? {} : undefined;
        const q2 = shortConv(dense(x, wq) as tf.Tensor3D, cq, qkSilu, 'conv_q', prev, next);
        const k2 = shortConv(dense(x, wk) as tf.Tensor3D, ck, qkSilu, 'conv_k', prev, next);
        const v2 = shortConv(dense(x, wv) as tf.Tensor3D, cv, true, 'conv_v', prev, next);
        let q: tf.Tensor = tf.reshape(q2, [B, T, H, hk]);
        let k: tf.Tensor = tf.reshape(k2, [B, T, H, hk]);
        if (o.qk_activation === 'relu') [q, k] = [tf.relu(q), tf.relu(k)];
        if (o.qk_activation === 'elu') [q, k] = [tf.add(tf.elu(q), 1), tf.add(tf.elu(k), 1)];
        if (o.qk_norm === 'sum') [q, k] = [tf.div(q, tf.sum(q, -1, true)), tf.div(k, tf.sum(k, -1, true))];
        else [q, k] = [l2Normalize(q), l2Normalize(k)];
        const v = tf.reshape(v2, [B, T, H, hv]) as tf.Tensor4D;
        let beta = wb !== undefined ? tf.sigmoid(dense(x, wb)) : tf.ones([B, T, H]);
        if (o.allow_neg_eigval) beta = tf.mul(beta, 2);
        const r = deltaRule(q as tf.Tensor4D, k as tf.Tensor4D, v, beta as tf.Tensor3D, {
          initialState: prev?.['S'] as tf.Tensor4D | undefined,
          wantState: next !== undefined,
          chunkSize: o.chunk_size,
        });
        if (next !== undefined) next['S'] = r.finalState!;
        // Per-head RMSNorm with a weight shared by the heads (fla RMSNorm(head_v_dim)), then the gate.
        let out: tf.Tensor = tf.mul(rmsNorm(r.o, o.norm_eps), normW);
        if (wg !== undefined) out = mulSilu(out, tf.reshape(dense(x, wg), [B, T, H, hv]));
        const y = dense(tf.reshape(out, [B, T, dv]), wo) as tf.Tensor3D;
        return next !== undefined ? { y, state: next } : { y };
      },
    };
  },
});
