// RetNet multi-scale retention (Sun et al. 2023, "Retentive Network"; paper-metala.md §1.3 Tab. A1
// RetNet row), following fla `layers/multiscale_retention.py`: q = xW_Q, k = xW_K rotated by
// position (the e^{jnθ} of f_α), v = xW_V, fixed per-head decay γ_h = 1 − 2^{−5−h},
// S_t = γ_h S_{t−1} + k_tᵀv_t, o = GroupNorm(q S), y = (SiLU(xW_G) ⊙ o) W_O.
// Value width 2d as in the RetNet paper and fla (`expand_v` 2): 8d² parameters with the gate.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { simpleGla } from '../ops/simple_gla/index.js';
import { dense, layerNorm, mulSilu, rmsNorm } from '../layers/basic.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer, type MixerState } from './types.js';
import { perHead } from './common.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** d_k / d (RetNet, fla `expand_k`: 1). */
    key_dim_ratio: z.number().positive().max(4).default(1),
    /** d_v / d (RetNet, fla `expand_v`: 2; set 1 for a 6d²-parameter layer). */
    value_dim_ratio: z.number().positive().max(4).default(2),
    /** Rotate q, k by position (RetNet's e^{jnθ}); fla's rotary, "rotate half" pairs. */
    rotary: z.boolean().default(true),
    rotary_base: z.number().positive().default(10000),
    /** Per-head norm: `layernorm` = the paper's GroupNorm (no affine); `rmsnorm` = fla's, with a weight. */
    head_norm: z.enum(['layernorm', 'rmsnorm']).default('layernorm'),
    norm_eps: z.number().positive().default(1e-5),
    use_output_gate: z.boolean().default(true),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

function dims(o: Opts, d: number): { dk: number; dv: number } {
  return { dk: d * o.key_dim_ratio, dv: d * o.value_dim_ratio };
}

/** RetNet's fixed decays γ_h = 1 − 2^{−5−h}, h = 0..H−1 (fla `g_gamma = log γ`). */
export function retnetGammas(H: number): number[] {
  return Array.from({ length: H }, (_, h) => 1 - 2 ** (-5 - h));
}

/**
 * Rotary embedding ("rotate half", as layers/rotary.ts) at positions pos[b] + t, with pos a tensor
 * so decoding needs no host read of the state (tensor reads are async on webgpu).
 * @param x   [B, T, H, D], D even
 * @param pos [B] tokens already seen
 */
export function rotaryAt(x: tf.Tensor4D, pos: tf.Tensor1D, base: number): tf.Tensor4D {
  const [B, T, H, D] = x.shape;
  const half = D / 2;
  const inv = Float32Array.from({ length: half }, (_, i) => Math.pow(base, (-2 * i) / D));
  const t = tf.add(tf.reshape(pos, [B, 1, 1]), tf.reshape(tf.range(0, T, 1, 'float32'), [1, T, 1])); // [B,T,1]
  const ang = tf.reshape(tf.mul(t, tf.tensor1d(inv)), [B, T, 1, half]);
  const cos = tf.cos(ang);
  const sin = tf.sin(ang);
  const x1 = tf.slice(x, [0, 0, 0, 0], [B, T, H, half]);
  const x2 = tf.slice(x, [0, 0, 0, half], [B, T, H, half]);
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], 3) as tf.Tensor4D;
}

export const retnet = defineMixer({
  name: 'retnet',
  family: 'linformer',
  cite: 'Sun et al. 2023, Retentive Network (arXiv 2307.08621); fla-org/flash-linear-attention fla/layers/multiscale_retention.py',
  form: { f_q: 'xW_Q', f_k: 'xW_K', f_v: 'xW_V', f_alpha: 'γ_h·e^{jθ} (fixed, γ_h = 1 − 2^{−5−h})', f_g: 'SiLU(xW_G) (after GroupNorm)' },
  properties: { C0: true, C1: false, C2: false, C3: false },
  options,
  // S per head [d_k/H, d_v/H], plus the position counter for the rotation.
  stateSize: (o, d) => {
    const { dk, dv } = dims(o, d);
    return (dk * dv) / o.num_heads + 1;
  },
  // W_Q, W_K (d×d_k), W_V (d×d_v), [W_G (d×d_v)], W_O (d_v×d), [RMSNorm weight (d_v/H)]
  paramCount: (o, d) => {
    const { dk, dv } = dims(o, d);
    return 2 * d * dk + d * dv + (o.use_output_gate ? d * dv : 0) + dv * d + (o.head_norm === 'rmsnorm' ? dv / o.num_heads : 0);
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const H = o.num_heads;
    const { dk, dv } = dims(o, d);
    const hk = perHead('retnet', d, H, 'key dim', dk);
    const hv = perHead('retnet', d, H, 'value dim', dv);
    if (o.rotary && hk % 2 !== 0) {
      throw new MetalaError(`model.mixer: retnet: rotary needs an even key head width, got ${hk} (d_model ${d}, num_heads ${H}). Change num_heads or key_dim_ratio, or set rotary: false`);
    }
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const wq = p.linear('q_proj', d, dk, init).w;
    const wk = p.linear('k_proj', d, dk, init).w;
    const wv = p.linear('v_proj', d, dv, init).w;
    const wg = o.use_output_gate ? p.linear('g_proj', d, dv, init).w : undefined;
    const wo = p.linear('o_proj', dv, d, init).w;
    const normW = o.head_norm === 'rmsnorm' ? p.add('g_norm.weight', [hv], { kind: 'ones' }, { decay: false }) : undefined;
    const logGamma = retnetGammas(H).map(Math.log);

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const prev = opts.state;
        let q = tf.reshape(dense(x, wq), [B, T, H, hk]) as tf.Tensor4D;
        let k = tf.reshape(dense(x, wk), [B, T, H, hk]) as tf.Tensor4D;
        const v = tf.reshape(dense(x, wv), [B, T, H, hv]) as tf.Tensor4D;
        const pos = (prev?.['pos'] as tf.Tensor1D | undefined) ?? (tf.zeros([B]) as tf.Tensor1D);
        // Porting note: rotary without xPos's per-dimension scale ζ (fla does the same); the decay γ
        // carries the relative damping. Positions come from the state, so decode = one pass.
        if (o.rotary) {
          q = rotaryAt(q, pos, o.rotary_base);
          k = rotaryAt(k, pos, o.rotary_base);
        }
        const g = tf.broadcastTo(tf.tensor3d(logGamma, [1, 1, H]), [B, T, H]) as tf.Tensor3D;
        const r = simpleGla(q, k, v, g, {
          initialState: prev?.['S'] as tf.Tensor4D | undefined,
          wantState: opts.wantState === true,
          chunkSize: o.chunk_size,
        });
        // GroupNorm with one group per head = LayerNorm over each head's d_v/H channels.
        let out: tf.Tensor = normW !== undefined ? tf.mul(rmsNorm(r.o, o.norm_eps), normW) : layerNorm(r.o, o.norm_eps);
        out = tf.reshape(out, [B, T, dv]);
        if (wg !== undefined) out = mulSilu(out, dense(x, wg));
        const y = dense(out, wo) as tf.Tensor3D;
        if (opts.wantState !== true) return { y };
        const state: MixerState = { S: r.finalState!, pos: tf.add(pos, T) };
        return { y, state };
      },
    };
  },
});
