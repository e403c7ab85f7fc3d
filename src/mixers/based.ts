// Based (Arora et al., ICML 2024, "Simple linear attention language models balance the recall-
// throughput tradeoff"), following Zoology `mixers/based.py` (+ `base_conv.py`, `feature_maps/taylor.py`):
// u = BaseConv(x) = conv(x) ⊙ (xW_p + b_p) + x; q, k = φ(uW_Q|K) with the 2nd-order Taylor map
// φ(x) = [1, x/f^{1/4}, vec(x xᵀ)/(√2·√f)] (φ(q)·φ(k) = 1 + q·k/√f + (q·k)²/2f); v = uW_V;
// o_t = φ(q_t) S_t / (φ(q_t) z_t + ε), y = o W_O; optional sliding-window softmax branch.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { simpleGla } from '../ops/simple_gla/index.js';
import { dense } from '../layers/basic.js';
import { causalConv1d } from '../layers/short_conv.js';
import { perRow } from '../layers/replicas.js';
import { defineMixer, type MixerState } from './types.js';
import { convTaps, perHead } from './common.js';

const options = z
  .object({
    /** Zoology's MQAR configs use one head (num_heads = num_key_value_heads = 1). */
    num_heads: z.number().int().positive().default(1),
    /** f: width of the projected q, k per head before the Taylor map (feature size 1 + f + f²). */
    feature_dim: z.number().int().positive().max(64).default(16),
    /** BaseConv kernel in front of the linear attention (Zoology: 3); 0 = no BaseConv. */
    conv_size: z.number().int().min(0).max(16).default(3),
    /** Sliding-window softmax attention over the last `window` tokens, summed in; 0 = off. */
    window: z
      .number()
      .int()
      .min(0)
      .refine((w) => w !== 1, { message: 'window must be 0 (off) or at least 2' })
      .default(0),
    eps: z.number().positive().default(1e-12),
    init_std: z.number().positive().default(0.02),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

/** Expanded feature size of the Taylor map: 1 + f + f². */
export function taylorSize(f: number): number {
  return 1 + f + f * f;
}

/**
 * Zoology's TaylorExp feature map.
 * @param x [B, T, H, f]
 * @returns [B, T, H, 1 + f + f²]
 */
export function taylorFeatures(x: tf.Tensor4D): tf.Tensor4D {
  const [B, T, H, f] = x.shape;
  const n = B * T * H;
  const flat = tf.reshape(x, [n, f]);
  const outer = tf.reshape(tf.mul(tf.reshape(flat, [n, f, 1]), tf.reshape(flat, [n, 1, f])), [n, f * f]);
  const parts = [tf.ones([n, 1]), tf.mul(flat, f ** -0.25), tf.mul(outer, 1 / (Math.SQRT2 * Math.sqrt(f)))];
  return tf.reshape(tf.concat(parts, 1), [B, T, H, taylorSize(f)]) as tf.Tensor4D;
}

export const based = defineMixer({
  name: 'based',
  family: 'linformer',
  cite: 'Arora et al. 2024, Based (ICML); HazyResearch/zoology zoology/mixers/based.py, base_conv.py',
  form: { f_q: 'φ_taylor(xW_Q)', f_k: 'φ_taylor(xW_K)', f_v: 'xW_V', f_alpha: '1 (no decay; normaliser z_t = Σ φ(k_s))', f_g: '1' },
  properties: { C0: true, C1: false, C2: true, C3: false },
  stacks: true,
  options,
  // Per head: [F, d/H + 1] (S and the normaliser), the conv cache, the window's KV cache.
  stateSize: (o, d) =>
    taylorSize(o.feature_dim) * (d + o.num_heads) + Math.max(0, o.conv_size - 1) * d + (o.window > 0 ? 2 * (o.window - 1) * d : 0),
  // W_Q, W_K (d×fH), W_V, W_O (d×d), [BaseConv: W_p (d×d) + b_p, taps c·d + bias d], [window W_Q, W_K, W_V (d×d)]
  paramCount: (o, d) =>
    2 * d * o.feature_dim * o.num_heads + 2 * d * d + (o.conv_size > 0 ? d * d + d + o.conv_size * d + d : 0) + (o.window > 0 ? 3 * d * d : 0),
  create: (o, ctx) => {
    const d = ctx.dModel;
    const H = o.num_heads;
    const f = o.feature_dim;
    const hv = perHead('based', d, H, 'value dim', d);
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const proj = o.conv_size > 0 ? p.linear('base_conv.projection', d, d, init, true) : undefined;
    const taps = o.conv_size > 0 ? convTaps(p, 'base_conv.conv', o.conv_size, d) : undefined;
    const tapsBias = o.conv_size > 0 ? p.add('base_conv.conv.bias', [d], { kind: 'uniform', bound: 1 / Math.sqrt(o.conv_size) }, { decay: false }) : undefined;
    const wq = p.linear('proj_q', d, f * H, init).w;
    const wk = p.linear('proj_k', d, f * H, init).w;
    const wv = p.linear('proj_v', d, d, init).w;
    const wo = p.linear('proj_o', d, d, init).w;
    const win = o.window > 0 ? ['q', 'k', 'v'].map((n) => p.linear(`window.${n}_proj`, d, d, init).w) : undefined;

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const prev = opts.state;
        const next: MixerState | undefined = opts.wantState === true ? {} : undefined;
        // 1. BaseConv: (conv(x) + b) ⊙ (x W_p + b_p) + x.
        // Porting note: Zoology's Hybrid alternates whole layers (layer 0 BaseConv, layer 1 Based, …);
        // we put the BaseConv in front of Based in every layer so all layers share one parameter
        // formula. conv_size 0 gives Zoology's pure Based layer.
        let u: tf.Tensor3D = x;
        if (taps !== undefined && proj !== undefined) {
          const c = causalConv1d(x, taps, prev?.['conv'] as tf.Tensor3D | undefined);
          if (next !== undefined) next['conv'] = c.cache;
          u = tf.add(tf.mul(tf.add(c.y, perRow(tapsBias!, B, [1, d])), dense(x, proj.w, proj.b)), x) as tf.Tensor3D;
        }
        // 2. Taylor linear attention; the ones column of v carries the normaliser z in the state.
        const q = taylorFeatures(tf.reshape(dense(u, wq), [B, T, H, f]) as tf.Tensor4D);
        const k = taylorFeatures(tf.reshape(dense(u, wk), [B, T, H, f]) as tf.Tensor4D);
        const v = tf.concat([tf.reshape(dense(u, wv), [B, T, H, hv]), tf.ones([B, T, H, 1])], 3) as tf.Tensor4D;
        const r = simpleGla(q, k, v, tf.zeros([B, T, H]), {
          scale: 1,
          initialState: prev?.['S'] as tf.Tensor4D | undefined,
          wantState: next !== undefined,
          chunkSize: o.chunk_size,
        });
        if (next !== undefined) next['S'] = r.finalState!;
        const num = tf.slice(r.o, [0, 0, 0, 0], [B, T, H, hv]);
        const den = tf.slice(r.o, [0, 0, 0, hv], [B, T, H, 1]);
        let out: tf.Tensor = tf.div(num, tf.add(den, o.eps));
        // 3. Optional sliding-window softmax branch on u, sharing W_O.
        if (win !== undefined) out = tf.add(out, windowAttention(u, win as [tf.Variable, tf.Variable, tf.Variable], H, o.window, prev, next));
        const y = dense(tf.reshape(out, [B, T, d]), wo) as tf.Tensor3D;
        return next !== undefined ? { y, state: next } : { y };
      },
    };
  },
});

/**
 * Causal softmax attention where token t sees t−W+1..t, with a KV cache of the last W−1 tokens
 * (`win_k`, `win_v` [B, ≤W−1, H, D]; its length tells how many past tokens exist).
 * Porting note: Based's window layers use rotary positions; here order comes from the BaseConv and
 * the linear branch, so decode needs no position counter.
 * @returns [B, T, H, D]
 */
function windowAttention(u: tf.Tensor3D, w: [tf.Variable, tf.Variable, tf.Variable], H: number, W: number, prev?: MixerState, next?: MixerState): tf.Tensor {
  const [B, T, d] = u.shape;
  const hd = d / H;
  const q = tf.reshape(dense(u, w[0]), [B, T, H, hd]);
  let k: tf.Tensor = tf.reshape(dense(u, w[1]), [B, T, H, hd]);
  let v: tf.Tensor = tf.reshape(dense(u, w[2]), [B, T, H, hd]);
  const pastK = prev?.['win_k'];
  const c = pastK?.shape[1] ?? 0;
  if (pastK !== undefined && c > 0) {
    k = tf.concat([pastK, k], 1);
    v = tf.concat([prev!['win_v']!, v], 1);
  }
  const S = c + T;
  const scores = tf.mul(tf.matMul(tf.transpose(q, [0, 2, 1, 3]), tf.transpose(k, [0, 2, 3, 1])), 1 / Math.sqrt(hd)); // [B,H,T,S]
  // Query t sits at c + t in the concatenated keys; it sees j with c+t−W < j ≤ c+t.
  const mask = new Float32Array(T * S).fill(-1e9);
  for (let t = 0; t < T; t++) for (let j = Math.max(0, c + t - W + 1); j <= c + t; j++) mask[t * S + j] = 0;
  const probs = tf.softmax(tf.add(scores, tf.tensor(mask, [1, 1, T, S])), -1);
  const out = tf.transpose(tf.matMul(probs, tf.transpose(v, [0, 2, 1, 3])), [0, 2, 1, 3]);
  if (next !== undefined) {
    const keep = Math.min(W - 1, S);
    next['win_k'] = tf.slice(k, [0, S - keep, 0, 0], [B, keep, H, hd]);
    next['win_v'] = tf.slice(v, [0, S - keep, 0, 0], [B, keep, H, hd]);
  }
  return out;
}
