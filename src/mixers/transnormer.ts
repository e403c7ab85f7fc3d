// TransNormer / TransNormerLLM token mixer (Qin et al. 2022 "The Devil in Linear Transformer";
// Qin et al. 2023 "TransNormerLLM"; paper-metala.md §1.3 Tab. A1 TrNorm row), following the official
// OpenNLPLab TransNormerLLM HF code (`modeling_transnormer.py::NormLinearAttention`, lightning attention):
// q = φ(xW_Q), k = φ(xW_K) with φ = SiLU, v = xW_V, fixed per-head decay λ_h (ALiBi slopes, scaled by
// depth), S_t = λ_h S_{t−1} + k_tᵀv_t, o = SRMSNorm(q S) (no scale), y = (xW_U ⊙ o) W_O.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { simpleGla } from '../ops/simple_gla/index.js';
import { dense, rmsNorm } from '../layers/basic.js';
import { defineMixer, type MixerState } from './types.js';
import { perHead } from './common.js';
import { featureMap as linFeature } from './linear_attn.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** φ on q, k: `silu` (TransNormerLLM `linear_act_fun`), or `elu1` = 1 + elu / `relu`. */
    feature_map: z.enum(['silu', 'elu1', 'relu']).default('silu'),
    /** Scale the decay rate by (1 − l/(L−1) + 1e-5): fast forgetting low, near-none at the top (TNL). */
    layer_decay: z.boolean().default(true),
    /**
     * LRPE (learnable e^{jθ} per channel; doubles the key width). Porting note: TNL turns it on in
     * layer 0 only (`linear_use_lrpe_list`); one switch for all layers keeps one parameter formula.
     */
    lrpe: z.boolean().default(false),
    /** Output gate U = xW_U (no activation, as in TNL). */
    use_output_gate: z.boolean().default(true),
    norm_eps: z.number().positive().default(1e-6),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

/** ALiBi slopes (Press et al. 2022) that TransNormerLLM uses as decay rates s_h; λ_h = e^{−s_h}. */
export function alibiSlopes(n: number): number[] {
  const pow2 = (m: number): number[] => {
    const start = 2 ** -(2 ** -(Math.log2(m) - 3));
    return Array.from({ length: m }, (_, i) => start * start ** i);
  };
  if (Number.isInteger(Math.log2(n))) return pow2(n);
  const closest = 2 ** Math.floor(Math.log2(n));
  return [...pow2(closest), ...alibiSlopes(2 * closest).filter((_, i) => i % 2 === 0).slice(0, n - closest)];
}

/** Log decays −s_h · (1 − l/(L−1) + 1e-5) of layer l of L (TNL `slope_rate`; one layer: 1 + 1e-5). */
export function transnormerLogDecay(H: number, layer: number, nLayers: number, layerDecay: boolean): number[] {
  const f = !layerDecay ? 1 : nLayers <= 1 ? 1 + 1e-5 : 1 - layer / (nLayers - 1) + 1e-5;
  return alibiSlopes(H).map((s) => -s * f);
}

export const transnormer = defineMixer({
  name: 'transnormer',
  family: 'linformer',
  cite: 'Qin et al. 2023, TransNormerLLM (arXiv 2307.14995); OpenNLPLab/TransnormerLLM modeling_transnormer.py',
  form: { f_q: 'φ(xW_Q)', f_k: 'φ(xW_K)', f_v: 'xW_V', f_alpha: 'λ_h (fixed; ·e^{jθ} with lrpe)', f_g: 'xW_U (XNorm = SRMSNorm)' },
  properties: { C0: true, C1: false, C2: false, C3: false },
  options,
  stateSize: (o, d) => (o.lrpe ? 2 : 1) * (d * d) / o.num_heads + (o.lrpe ? 1 : 0),
  // W_Q, W_K, W_V, [W_U] (fused qkvu_proj, d×4d), W_O (d×d), [LRPE θ (d)]
  paramCount: (o, d) => (o.use_output_gate ? 4 : 3) * d * d + d * d + (o.lrpe ? d : 0),
  create: (o, ctx) => {
    const d = ctx.dModel;
    const H = o.num_heads;
    const hd = perHead('transnormer', d, H, 'width', d);
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const nProj = o.use_output_gate ? 4 : 3;
    const wqkvu = p.linear(o.use_output_gate ? 'qkvu_proj' : 'qkv_proj', d, nProj * d, init).w;
    const wo = p.linear('out_proj', d, d, init).w;
    // TNL Lrpe: θ_i = 10000^{−2i/d} over all d channels, viewed as [H, d/H]; learnable.
    const theta = o.lrpe
      ? p.add('lrpe.theta', [H, hd], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => 10000 ** ((-2 / n) * i)) }, { decay: false, fileShape: [H, 1, hd] })
      : undefined;
    const logDecay = transnormerLogDecay(H, ctx.layer, ctx.nLayers, o.layer_decay);

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const prev = opts.state;
        const proj = dense(x, wqkvu); // [B,T,nProj·d]
        const part = (i: number): tf.Tensor => tf.slice(proj, [0, 0, i * d], [B, T, d]);
        const phi = (t: tf.Tensor): tf.Tensor => (o.feature_map === 'silu' ? tf.mul(t, tf.sigmoid(t)) : linFeature(o.feature_map, t));
        let q = tf.reshape(phi(part(0)), [B, T, H, hd]) as tf.Tensor4D;
        let k = tf.reshape(phi(part(1)), [B, T, H, hd]) as tf.Tensor4D;
        const v = tf.reshape(part(2), [B, T, H, hd]) as tf.Tensor4D;
        const pos = theta !== undefined ? ((prev?.['pos'] as tf.Tensor1D | undefined) ?? (tf.zeros([B]) as tf.Tensor1D)) : undefined;
        if (theta !== undefined && pos !== undefined) {
          // x → [x cos(tθ), x sin(tθ)], so q·k sums q_i k_i cos((t−s)θ_i): relative by construction.
          const t = tf.add(tf.reshape(pos, [B, 1, 1, 1]), tf.reshape(tf.range(0, T, 1, 'float32'), [1, T, 1, 1]));
          const ang = tf.mul(t, tf.reshape(theta, [1, 1, H, hd]));
          const [c, s] = [tf.cos(ang), tf.sin(ang)];
          q = tf.concat([tf.mul(q, c), tf.mul(q, s)], 3) as tf.Tensor4D;
          k = tf.concat([tf.mul(k, c), tf.mul(k, s)], 3) as tf.Tensor4D;
        }
        const g = tf.broadcastTo(tf.tensor3d(logDecay, [1, 1, H]), [B, T, H]) as tf.Tensor3D;
        // Lightning attention has no 1/√d scale: the SRMSNorm after it removes the magnitude.
        const r = simpleGla(q, k, v, g, {
          scale: 1,
          initialState: prev?.['S'] as tf.Tensor4D | undefined,
          wantState: opts.wantState === true,
          chunkSize: o.chunk_size,
        });
        // Porting note: SRMSNorm over all d channels at once (TNL `norm(hidden_dim)`), not per head.
        let out = rmsNorm(tf.reshape(r.o, [B, T, d]), o.norm_eps);
        if (o.use_output_gate) out = tf.mul(part(3), out);
        const y = dense(out, wo) as tf.Tensor3D;
        if (opts.wantState !== true) return { y };
        const state: MixerState = { S: r.finalState! };
        if (pos !== undefined) state['pos'] = tf.add(pos, T);
        return { y, state };
      },
    };
  },
});
