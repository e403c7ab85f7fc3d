// Vanilla linear attention (Katharopoulos et al., ICML 2020, "Transformers are RNNs"; paper-metala.md
// §1.3 Tab. A1 first row): q = φ(xW_Q), k = φ(xW_K), v = xW_V, no decay, and the normalised read-out
//   o_t = φ(q_t) S_t / (φ(q_t) z_t + ε),   S_t = Σ_{s≤t} φ(k_s)ᵀ v_s,   z_t = Σ_{s≤t} φ(k_s)ᵀ,   y = o W_O.
// Follows fla `layers/linear_attn.py` for layout/naming; the normaliser follows the paper (fla's
// `do_feature_map_norm`).
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { simpleGla } from '../ops/simple_gla/index.js';
import { dense } from '../layers/basic.js';
import { defineMixer } from './types.js';
import { perHead } from './common.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** d_k / d (fla `expand_k`). */
    key_dim_ratio: z.number().positive().max(4).default(1),
    /** φ: `elu1` = elu(x) + 1 (the paper's choice), `relu`, or `identity` (then disable `normalize`). */
    feature_map: z.enum(['elu1', 'relu', 'identity']).default('elu1'),
    /** Divide by φ(q_t) z_t + ε (Katharopoulos); false = the un-normalised form. */
    normalize: z.boolean().default(true),
    eps: z.number().positive().default(1e-6),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

/** φ of the options (elementwise). */
export function featureMap(name: Opts['feature_map'], x: tf.Tensor): tf.Tensor {
  if (name === 'elu1') return tf.add(tf.elu(x), 1);
  if (name === 'relu') return tf.relu(x);
  return x;
}

export const linearAttn = defineMixer({
  name: 'linear_attn',
  family: 'linformer',
  cite: 'Katharopoulos et al. 2020, Transformers are RNNs (ICML); fla-org/flash-linear-attention fla/layers/linear_attn.py',
  form: { f_q: 'φ(xW_Q)', f_k: 'φ(xW_K)', f_v: 'xW_V', f_alpha: '1 (no decay; normaliser z_t = Σ φ(k_s))', f_g: '1' },
  properties: { C0: true, C1: false, C2: true, C3: false },
  options,
  // Per head: S [d_k/H, d/H] plus the normaliser column z [d_k/H].
  stateSize: (o, d) => {
    const dk = d * o.key_dim_ratio;
    return dk * (d / o.num_heads + (o.normalize ? 1 : 0));
  },
  // W_Q, W_K (d×d_k), W_V, W_O (d×d)
  paramCount: (o, d) => 2 * d * d * o.key_dim_ratio + 2 * d * d,
  create: (o, ctx) => {
    const d = ctx.dModel;
    const H = o.num_heads;
    const dk = d * o.key_dim_ratio;
    const hk = perHead('linear_attn', d, H, 'key dim', dk);
    const hv = perHead('linear_attn', d, H, 'value dim', d);
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const wq = p.linear('q_proj', d, dk, init).w;
    const wk = p.linear('k_proj', d, dk, init).w;
    const wv = p.linear('v_proj', d, d, init).w;
    const wo = p.linear('o_proj', d, d, init).w;

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const q = tf.reshape(featureMap(o.feature_map, dense(x, wq)), [B, T, H, hk]) as tf.Tensor4D;
        const k = tf.reshape(featureMap(o.feature_map, dense(x, wk)), [B, T, H, hk]) as tf.Tensor4D;
        let v = tf.reshape(dense(x, wv), [B, T, H, hv]) as tf.Tensor4D;
        // The normaliser rides along as an extra value column of ones: the state [B,H,K,V+1] holds
        // [S | z], so one recurrence gives numerator and denominator and decoding carries both.
        if (o.normalize) v = tf.concat([v, tf.ones([B, T, H, 1])], 3);
        // Porting note: no K^-0.5 scale (Katharopoulos); with the normaliser it would cancel anyway.
        // fla's layer adds a per-head RMSNorm instead of the normaliser; we follow the paper's row.
        const r = simpleGla(q, k, v, tf.zeros([B, T, H]), {
          scale: 1,
          initialState: opts.state?.['S'] as tf.Tensor4D | undefined,
          wantState: opts.wantState === true,
          chunkSize: o.chunk_size,
        });
        let out: tf.Tensor = r.o;
        if (o.normalize) {
          const num = tf.slice(r.o, [0, 0, 0, 0], [B, T, H, hv]);
          const den = tf.slice(r.o, [0, 0, 0, hv], [B, T, H, 1]);
          out = tf.div(num, tf.add(den, o.eps));
        }
        const y = dense(tf.reshape(out, [B, T, d]), wo) as tf.Tensor3D;
        return opts.wantState === true ? { y, state: { S: r.finalState! } } : { y };
      },
    };
  },
});
