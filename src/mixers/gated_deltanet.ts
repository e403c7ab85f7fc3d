// Gated DeltaNet token mixer (Yang, Kautz & Hatamizadeh, ICLR 2025, "Gated Delta Networks"),
// following fla `layers/gated_deltanet.py`: DeltaNet plus a Mamba2-style scalar decay per head
//   g_t = −exp(A_log) · softplus(x W_a + dt_bias),   S_t = e^{g_t} (I − β_t k_tᵀk_t) S_{t−1} + β_t k_tᵀ v_t,
// q, k = L2norm(SiLU(conv(xW))), v = SiLU(conv(xW_V)), o = RMSNorm_head(q S) ⊙ SiLU(x W_G), y = o W_O.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { gatedDeltaRule } from '../ops/gated_delta_rule/index.js';
import { dense, mulSilu, rmsNorm } from '../layers/basic.js';
import { defineMixer, type MixerState } from './types.js';
import { convTaps, l2Normalize, qkvProjections, shortConv } from './common.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** d_k / d: fla's 6 heads × 256 at d = 2048 give 0.75 (its "≈ 6d² parameters" layout). */
    key_dim_ratio: z.number().positive().max(4).default(0.75),
    /** Value head width / key head width (fla `expand_v`). */
    expand_v: z.number().positive().max(4).default(2),
    use_short_conv: z.boolean().default(true),
    conv_size: z.number().int().min(1).max(16).default(4),
    /** Output gate RMSNorm(o) ⊙ SiLU(x W_G) (fla default on). */
    use_gate: z.boolean().default(true),
    allow_neg_eigval: z.boolean().default(false),
    norm_eps: z.number().positive().default(1e-5),
    /** A ~ U(0, a_init_max) per head, stored as A_log (fla: U(0, 16)). */
    a_init_max: z.number().positive().default(16),
    /** dt = softplus(dt_bias) starts log-uniform in [dt_min, dt_max] (Mamba2 / fla). */
    dt_min: z.number().positive().default(0.001),
    dt_max: z.number().positive().default(0.1),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

function dims(o: Opts, d: number): { dk: number; dv: number } {
  const dk = d * o.key_dim_ratio;
  return { dk, dv: dk * o.expand_v };
}

export const gatedDeltanet = defineMixer({
  name: 'gated_deltanet',
  family: 'delta',
  cite: 'Yang, Kautz & Hatamizadeh 2025, Gated Delta Networks (ICLR); fla-org/flash-linear-attention fla/layers/gated_deltanet.py',
  form: {
    f_q: 'L2(SiLU(conv(xW_Q)))',
    f_k: 'L2(SiLU(conv(xW_K)))',
    f_v: 'SiLU(conv(xW_V))',
    f_alpha: 'e^{g_t}(I − β_t k_tᵀk_t), g_t = −e^{A_log}·softplus(xW_a + b_dt)',
    f_g: 'SiLU(xW_G) (after per-head RMSNorm)',
  },
  // Dynamic decay with Q and K (the GLA/Mamba group of Tab. 2), plus delta-rule erasure.
  properties: { C0: true, C1: true, C2: true, C3: false },
  options,
  stateSize: (o, d) => {
    const { dk, dv } = dims(o, d);
    return (dk * dv) / o.num_heads + (o.use_short_conv ? (o.conv_size - 1) * (2 * dk + dv) : 0);
  },
  // W_Q, W_K (d×d_k), W_V (d×d_v), W_a, W_β (d×H), A_log, dt_bias (H), convs c·(2d_k+d_v), [W_G (d×d_v)], norm (d_v/H), W_O
  paramCount: (o, d) => {
    const { dk, dv } = dims(o, d);
    const H = o.num_heads;
    return 2 * d * dk + d * dv + 2 * d * H + 2 * H + (o.use_short_conv ? o.conv_size * (2 * dk + dv) : 0) + (o.use_gate ? d * dv : 0) + dv / H + dv * d;
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const H = o.num_heads;
    const { dk, dv } = dims(o, d);
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const { wq, wk, wv, hk, hv } = qkvProjections('gated_deltanet', p, d, H, dk, dv, o.init_std);
    const wa = p.linear('a_proj', d, H, init).w;
    const wb = p.linear('b_proj', d, H, init).w;
    const aLog = p.add('A_log', [H], { kind: 'custom', values: (n, rng) => Float32Array.from({ length: n }, () => Math.log(Math.max(1e-4, rng.next() * o.a_init_max))) }, { decay: false });
    // dt_bias = softplus⁻¹(dt) = dt + log(−expm1(−dt)), dt log-uniform in [dt_min, dt_max], floor 1e-4.
    const dtBias = p.add(
      'dt_bias',
      [H],
      {
        kind: 'custom',
        values: (n, rng) =>
          Float32Array.from({ length: n }, () => {
            const dt = Math.max(1e-4, Math.exp(rng.next() * (Math.log(o.dt_max) - Math.log(o.dt_min)) + Math.log(o.dt_min)));
            return dt + Math.log(-Math.expm1(-dt));
          }),
      },
      { decay: false },
    );
    const cq = o.use_short_conv ? convTaps(p, 'q_conv1d', o.conv_size, dk) : undefined;
    const ck = o.use_short_conv ? convTaps(p, 'k_conv1d', o.conv_size, dk) : undefined;
    const cv = o.use_short_conv ? convTaps(p, 'v_conv1d', o.conv_size, dv) : undefined;
    const wg = o.use_gate ? p.linear('g_proj', d, dv, init).w : undefined;
    const normW = p.add('o_norm.weight', [hv], { kind: 'ones' }, { decay: false });
    const wo = p.linear('o_proj', dv, d, init).w;

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const prev = opts.state;
        const next: MixerState | undefined = opts.wantState === true ? {} : undefined;
        const q = l2Normalize(tf.reshape(shortConv(dense(x, wq) as tf.Tensor3D, cq, true, 'conv_q', prev, next), [B, T, H, hk]));
        const k = l2Normalize(tf.reshape(shortConv(dense(x, wk) as tf.Tensor3D, ck, true, 'conv_k', prev, next), [B, T, H, hk]));
        const v = tf.reshape(shortConv(dense(x, wv) as tf.Tensor3D, cv, true, 'conv_v', prev, next), [B, T, H, hv]);
        // g = −exp(A_log) · softplus(x W_a + dt_bias): [B,T,H], ≤ 0.
        const g = tf.mul(tf.neg(tf.exp(aLog)), tf.softplus(tf.add(dense(x, wa), dtBias)));
        let beta = tf.sigmoid(dense(x, wb));
        if (o.allow_neg_eigval) beta = tf.mul(beta, 2);
        const r = gatedDeltaRule(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, g as tf.Tensor3D, beta as tf.Tensor3D, {
          initialState: prev?.['S'] as tf.Tensor4D | undefined,
          wantState: next !== undefined,
          chunkSize: o.chunk_size,
        });
        if (next !== undefined) next['S'] = r.finalState!;
        let out: tf.Tensor = tf.mul(rmsNorm(r.o, o.norm_eps), normW);
        if (wg !== undefined) out = mulSilu(out, tf.reshape(dense(x, wg), [B, T, H, hv]));
        const y = dense(tf.reshape(out, [B, T, dv]), wo) as tf.Tensor3D;
        return next !== undefined ? { y, state: next } : { y };
      },
    };
  },
});
