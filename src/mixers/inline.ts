// InLine attention, injective linear attention with a local residual (Han et al., NeurIPS 2024,
// arXiv 2412.06590), following LeapLabTHU/InLine@e463a6f models/inline_deit.py and inline_swin.py,
// class InLineAttention (docs/seed-systems.md §4). Per head, s = d^−1/2, N tokens, k̄, v̄ the means:
//   o_i = (s/N) φ(q_i)ᵀ Σ_j φ(k_j) v_jᵀ + (1 − s φ(q_i)ᵀ φ(k̄)) v̄
// i.e. weights w_ij = (s/N)(q_iᵀk_j − q_iᵀk̄) + 1/N whose rows sum to 1 by subtraction. Then the local
// residual: a per-sample 3×3 depthwise kernel K = Conv1d(D,9D,1,g=H)(GELU(Conv1d(D,D,1,g=H)(mean_n x)))
// (output channel 9c + r = tap r, row-major, of channel c) convolves V on the side×side patch grid
// (zero padding 1) and is added to the patch tokens (a class token, first, gets none); then proj.
// Unified form: f_q = (s/N) q, f_k = k, f_v = v, f_α = 1, plus the rank-1 mean term and the conv.
// The paper has no causal form; `create` is ours (see causalLayer).
import * as tf from '@tensorflow/tfjs';
import { MetalaError } from '../util/errors.js';
import { z } from 'zod';
import { dense } from '../layers/basic.js';
import type { Init, ParamScope } from '../layers/params.js';
import { bmm, prefixSum } from '../ops/common/tensor.js';
import { simpleGla } from '../ops/simple_gla/index.js';
import { perHead } from './common.js';
import { defineMixer, type MixerContext, type MixerState, type TokenMixer } from './types.js';

const options = z
  .object({
    num_heads: z.number().int().positive().default(4),
    /** φ on q and k (inline_swin.py `kernel_func`; the DeiT file has none = identity). leakyrelu: slope 0.01; exp: e^{0.2x}. */
    kernel: z.enum(['identity', 'relu', 'leakyrelu', 'exp']).default('identity'),
    /** Bias on the qkv projection (`qkv_bias`; proj always has one). */
    qkv_bias: z.boolean().default(true),
    /** The local residual (dynamic 3×3 depthwise conv on V); off = InLine attention alone. */
    residual: z.boolean().default(true),
    /**
     * Non-causal form: whether token 0 is a class token (no residual, no grid position). `auto`: yes
     * when T = side² + 1, no when T = side² (the two never coincide for T > 1). Porting note: the
     * authors' DeiT and Swin files hard-code one case each; `auto` lets the ViT backbone (class token
     * first with pool cls and single_pass, none with pool mean, always a square patch grid) use the
     * mixer without handing over its geometry. The causal form has no grid and ignores it.
     */
    cls_token: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    /**
     * `timm`: Linear weights N(0, 0.02) and zero biases (DeiT's `_init_vit_weights`); `pytorch`:
     * nn.Linear's U(±1/√D). Porting note: the residual's convs keep PyTorch's default U(±1/√(D/H))
     * in both (timm's init leaves Conv1d alone); timm's trunc_normal cut at ±2 = ±100σ is a plain normal.
     */
    init: z.enum(['timm', 'pytorch']).default('timm'),
    chunk_size: z.number().int().positive().optional(),
  })
  .strict();

type Opts = z.infer<typeof options>;

/** Causal form: taps of the local residual's 1-D conv (the 9 per-channel outputs of the kernel MLP). */
const TAPS = 9;

function phi(kind: Opts['kernel'], x: tf.Tensor): tf.Tensor {
  if (kind === 'relu') return tf.relu(x);
  if (kind === 'leakyrelu') return tf.leakyRelu(x, 0.01); // nn.LeakyReLU's default slope
  if (kind === 'exp') return tf.exp(tf.mul(x, 0.2)); // inline_swin.py exp_kernel, t = 0.2
  return x;
}

/**
 * nn.GELU() (exact, erf form). Porting note: layers/basic.ts gelu is the tanh approximation, ~1e-3
 * off, too far for the fixtures; tf.erf (cpu/wasm/webgpu, with its gradient) matches PyTorch to ~1e-7.
 */
function geluErf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/**
 * The kernel MLP's grouped 1×1 conv Conv1d(D, out, 1, groups=H) on rows x [M, D] → [M, out]: group
 * g maps input channels [g·D/H, (g+1)·D/H) to output channels [g·out/H, (g+1)·out/H).
 * Weight [D/H, out] here, [out, D/H, 1] in the file.
 */
function groupedConv1x1(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor, H: number): tf.Tensor2D {
  const [M, D] = x.shape;
  const dg = D / H;
  const out = w.shape[1]!;
  const og = out / H;
  const xg = tf.transpose(tf.reshape(x, [M, H, dg]), [1, 0, 2]); // [H, M, dg]
  const wg = tf.transpose(tf.reshape(w, [dg, H, og]), [1, 0, 2]); // [H, dg, og]
  const y = tf.reshape(tf.transpose(bmm(xg, wg), [1, 0, 2]), [M, out]);
  return tf.add(y, b) as tf.Tensor2D;
}

interface Weights {
  qkv: { w: tf.Variable; b?: tf.Variable };
  proj: { w: tf.Variable; b: tf.Variable };
  res?: { w0: tf.Variable; b0: tf.Variable; w2: tf.Variable; b2: tf.Variable };
}

/** Parameters under the authors' names (`qkv`, `proj`, `residual.0`, `residual.2`). */
function makeWeights(o: Opts, D: number, p: ParamScope): Weights {
  const H = o.num_heads;
  const dg = D / H;
  const wInit: Init = o.init === 'timm' ? { kind: 'normal', std: 0.02 } : { kind: 'uniform', bound: 1 / Math.sqrt(D) };
  const bInit: Init = o.init === 'timm' ? { kind: 'zeros' } : { kind: 'uniform', bound: 1 / Math.sqrt(D) };
  // nn.Linear(D, out): weight [out, in] in the file, [in, out] here.
  const weight = (name: string, out: number): tf.Variable => p.add(`${name}.weight`, [D, out], wInit, { layout: 'linear' });
  const bias = (name: string, out: number): tf.Variable => p.add(`${name}.bias`, [out], bInit, { decay: false });
  const w: Weights = {
    qkv: { w: weight('qkv', 3 * D), b: o.qkv_bias ? bias('qkv', 3 * D) : undefined },
    proj: { w: weight('proj', D), b: bias('proj', D) },
  };
  if (o.residual) {
    const cInit: Init = { kind: 'uniform', bound: 1 / Math.sqrt(dg) };
    const conv = (name: string, out: number) => ({
      w: p.add(`${name}.weight`, [dg, out], cInit, { layout: 'linear', fileShape: [out, dg, 1] }),
      b: p.add(`${name}.bias`, [out], cInit, { decay: false }),
    });
    const c0 = conv('residual.0', D);
    const c2 = conv('residual.2', TAPS * D);
    w.res = { w0: c0.w, b0: c0.b, w2: c2.w, b2: c2.b };
  }
  return w;
}

/** Per-sample (or per-position) kernels from the mean input xbar [M, D] → [M, D, 9] (tap r of channel c). */
function residualKernels(res: NonNullable<Weights['res']>, xbar: tf.Tensor2D, H: number): tf.Tensor3D {
  const [M, D] = xbar.shape;
  const hidden = geluErf(groupedConv1x1(xbar, res.w0, res.b0, H)) as tf.Tensor2D;
  return tf.reshape(groupedConv1x1(hidden, res.w2, res.b2, H), [M, D, TAPS]) as tf.Tensor3D;
}

/** q, k, v [B, T, D] from one qkv projection (rows [q | k | v]), φ on q and k. */
function projectQkv(o: Opts, w: Weights, x: tf.Tensor3D): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
  const [B, T, D] = x.shape;
  const qkv = dense(x, w.qkv.w, w.qkv.b);
  const part = (i: number): tf.Tensor3D => tf.slice(qkv, [0, 0, i * D], [B, T, D]) as tf.Tensor3D;
  return [phi(o.kernel, part(0)) as tf.Tensor3D, phi(o.kernel, part(1)) as tf.Tensor3D, part(2)];
}

/** Whether token 0 is a class token, and the grid side, for T tokens (non-causal form). */
function gridOf(o: Opts, T: number): { cls: boolean; side: number } {
  const isSquare = (n: number): boolean => n >= 1 && Math.round(Math.sqrt(n)) ** 2 === n;
  const cls = o.cls_token === 'auto' ? !isSquare(T) && isSquare(T - 1) : o.cls_token;
  const n = T - (cls ? 1 : 0);
  if (!isSquare(n)) {
    throw new MetalaError(
      `model.mixer: inline: the local residual lays the ${n} ${cls ? 'patch tokens (T − 1 class token)' : 'tokens'} on a square grid, but ${n} is not a square (T = ${T}, cls_token ${String(o.cls_token)}). Use T = side² (no class token) or side² + 1 (class token first), or residual: false`,
    );
  }
  return { cls, side: Math.round(Math.sqrt(n)) };
}

/** What both forms share: widths, weights and the scale s = 1/√d of the attention weights. */
function layerSetup(o: Opts, ctx: MixerContext) {
  const D = ctx.dModel;
  const H = o.num_heads;
  const d = perHead('inline', D, H, 'model width', D);
  return { D, H, d, w: makeWeights(o, D, ctx.params), s: 1 / Math.sqrt(d) };
}

/** The authors' forward (non-causal, every token sees all N). */
function nonCausalLayer(o: Opts, ctx: MixerContext): TokenMixer {
  const { D, H, d, w, s } = layerSetup(o, ctx);
  return {
    forward(x, opts = {}) {
      if (opts.state !== undefined || opts.wantState === true) throw new Error('inline: the non-causal form has no decoding state');
      const [B, N] = x.shape;
      const [q, k, v] = projectQkv(o, w, x);
      const heads = (t: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, N, H, d]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, N, d]
      const q4 = heads(q);
      const k4 = heads(k);
      const v4 = heads(v);
      const flat = (t: tf.Tensor): tf.Tensor3D => tf.reshape(t, [B * H, N, d]) as tf.Tensor3D;
      const kv = tf.mul(bmm(flat(k4), flat(v4), true, false), s / N); // [B·H, d, d]
      const kMean = tf.mean(k4, 2, true); // [B, H, 1, d]
      const vMean = tf.mean(v4, 2, true);
      const glob = tf.reshape(bmm(flat(q4), kv), [B, H, N, d]);
      const corr = tf.mul(tf.sub(1, tf.mul(tf.sum(tf.mul(q4, kMean), 3, true), s)), vMean); // (1 − s qᵀk̄) v̄
      let out = tf.reshape(tf.transpose(tf.add(glob, corr), [0, 2, 1, 3]), [B, N, D]) as tf.Tensor3D;
      if (w.res !== undefined) {
        const { cls, side } = gridOf(o, N);
        const K = tf.transpose(residualKernels(w.res, tf.mean(x, 1) as tf.Tensor2D, H), [0, 2, 1]); // [B, 9, D]; the mean counts the class token
        const n0 = cls ? 1 : 0;
        const grid = tf.reshape(tf.slice(v, [0, n0, 0], [B, N - n0, D]), [B, side, side, D]);
        const padded = tf.pad(grid, [[0, 0], [1, 1], [1, 1], [0, 0]]);
        let conv: tf.Tensor | undefined;
        for (let r = 0; r < TAPS; r++) {
          // F.conv2d is a cross-correlation: tap (a, b) reads the neighbour at offset (a − 1, b − 1).
          const tap = tf.mul(tf.slice(padded, [0, Math.floor(r / 3), r % 3, 0], [B, side, side, D]), tf.reshape(tf.slice(K, [0, r, 0], [B, 1, D]), [B, 1, 1, D]));
          conv = conv === undefined ? tap : tf.add(conv, tap);
        }
        let local = tf.reshape(conv!, [B, N - n0, D]);
        if (cls) local = tf.concat([tf.zeros([B, 1, D]), local], 1);
        out = tf.add(out, local) as tf.Tensor3D;
      }
      return { y: dense(out, w.proj.w, w.proj.b) as tf.Tensor3D };
    },
  };
}

/**
 * The causal variant. Porting note: ours, not the paper's (it has only the non-causal form;
 * docs/seed-systems.md §4), and no fixture checks it: with prefix sums S_t = Σ_{i≤t} k_i v_iᵀ, K_t = Σ k_i, V_t = Σ v_i,
 *   o_t = (s/t) q_tᵀ S_t + (1 − s q_tᵀ K_t / t) V_t / t,
 * the non-causal formula with N → t and the means over the prefix (weights still sum to 1 over i ≤ t).
 * The local residual becomes a causal depthwise 1-D conv with 9 taps per channel (the kernel MLP's
 * 9 outputs; the last tap multiplies the current token, as layers/short_conv.ts), its kernel predicted
 * from the prefix mean x̄_t = Σ_{i≤t} x_i / t, so each position has its own. No grid, no class token.
 * Decoding state: S [B,H,d,d], K and V sums [B,H,d], the token count, and with the residual Σx [B,D]
 * and the last 8 values [B,8,D].
 */
function causalLayer(o: Opts, ctx: MixerContext): TokenMixer {
  const { D, H, d, w, s } = layerSetup(o, ctx);
  return {
    forward(x, opts = {}) {
      const [B, T] = x.shape;
      const st = opts.state;
      const wantState = opts.wantState === true;
      const [q, k, v] = projectQkv(o, w, x);
      const heads = (t: tf.Tensor): tf.Tensor4D => tf.reshape(t, [B, T, H, d]) as tf.Tensor4D;
      const seen: tf.Tensor1D = (st?.['count'] as tf.Tensor1D | undefined) ?? tf.zeros([1]);
      const steps = tf.reshape(tf.add(tf.range(1, T + 1, 1, 'float32'), seen), [1, T, 1]); // t, 1-based
      // Inclusive prefix sums over this call's tokens, continued from the state's sums.
      const prefix = (t: tf.Tensor3D, prev: tf.Tensor | undefined): tf.Tensor3D => {
        const c = prefixSum(t);
        return prev === undefined ? c : (tf.add(c, tf.reshape(prev, [B, 1, -1])) as tf.Tensor3D);
      };
      const Ks = prefix(k, st?.['ksum']);
      const Vs = prefix(v, st?.['vsum']);
      const r = simpleGla(heads(q), heads(k), heads(v), tf.zeros([B, T, H]) as tf.Tensor3D, {
        scale: 1,
        initialState: st?.['S'] as tf.Tensor4D | undefined,
        wantState,
        chunkSize: o.chunk_size,
      });
      const t4 = tf.reshape(steps, [1, T, 1, 1]);
      const qK = tf.sum(tf.mul(heads(q), heads(Ks)), 3, true); // [B, T, H, 1]
      const oh = tf.add(tf.mul(r.o, tf.div(s, t4)), tf.mul(tf.sub(1, tf.div(tf.mul(qK, s), t4)), tf.div(heads(Vs), t4)));
      let out = tf.reshape(oh, [B, T, D]) as tf.Tensor3D;
      const next: MixerState = {};
      if (w.res !== undefined) {
        const Xs = prefix(x, st?.['xsum']);
        const xbar = tf.reshape(tf.div(Xs, steps), [B * T, D]) as tf.Tensor2D;
        const K = tf.reshape(tf.transpose(residualKernels(w.res, xbar, H), [0, 2, 1]), [B, T, TAPS, D]); // [B, T, 9, D]
        const past = (st?.['conv'] as tf.Tensor3D | undefined) ?? (tf.zeros([B, TAPS - 1, D]) as tf.Tensor3D);
        const vp = tf.concat([past, v], 1); // [B, 8 + T, D]
        let conv: tf.Tensor | undefined;
        for (let j = 0; j < TAPS; j++) {
          const tap = tf.mul(tf.slice(vp, [0, j, 0], [B, T, D]), tf.reshape(tf.slice(K, [0, 0, j, 0], [B, T, 1, D]), [B, T, D]));
          conv = conv === undefined ? tap : tf.add(conv, tap);
        }
        out = tf.add(out, conv!) as tf.Tensor3D;
        if (wantState) {
          next['xsum'] = tf.reshape(tf.slice(Xs, [0, T - 1, 0], [B, 1, D]), [B, D]);
          next['conv'] = tf.slice(vp, [0, T, 0], [B, TAPS - 1, D]);
        }
      }
      const y = dense(out, w.proj.w, w.proj.b) as tf.Tensor3D;
      if (!wantState) return { y };
      const last = (a: tf.Tensor3D): tf.Tensor => tf.reshape(tf.slice(a, [0, T - 1, 0], [B, 1, D]), [B, H, d]);
      return { y, state: { ...next, S: r.finalState!, ksum: last(Ks), vsum: last(Vs), count: tf.add(seen, T) } };
    },
  };
}

export const inline = defineMixer({
  name: 'inline',
  family: 'linformer',
  cite: 'Han et al. 2024, Bridging the divide: reconsidering softmax and linear attention (InLine; NeurIPS, arXiv 2412.06590); LeapLabTHU/InLine@e463a6f models/inline_deit.py, inline_swin.py',
  form: {
    f_q: '(s/N) φ(xW_Q) (s = d^−1/2; causal variant, ours: s/t)',
    f_k: 'φ(xW_K)',
    f_v: 'xW_V',
    f_alpha: '1 (no decay), plus (1 − s qᵀk̄) v̄ and a dynamic 3×3 depthwise conv on V',
    f_g: '1',
  },
  properties: { C0: true, C1: false, C2: true, C3: false },
  options,
  // Per head S (d²), Σk and Σv (2d); the token count; with the residual Σx (D) and 8 past values (8D).
  stateSize: (o, D) => {
    const d = D / o.num_heads;
    return o.num_heads * (d * d + 2 * d) + 1 + (o.residual ? TAPS * D : 0);
  },
  // qkv (3D² [+ 3D]), proj (D² + D), residual.0 (D²/H + D), residual.2 (9D²/H + 9D): 4D² + 10D²/H + 14D.
  paramCount: (o, D) => {
    const res = o.residual ? (10 * D * D) / o.num_heads + 10 * D : 0;
    return 4 * D * D + (o.qkv_bias ? 3 * D : 0) + D + res;
  },
  create: (o, ctx) => causalLayer(o, ctx),
  createNonCausal: (o, ctx) => nonCausalLayer(o, ctx),
  reference: {
    classes: ['InLineAttention'],
    fromFixture(hp) {
      // inline_deit.py takes `window` and has no kernel function; inline_swin.py takes `window_size` and `kernel_func`.
      // (shift_size and qk_scale do not enter the Swin layer's forward: the block shifts, the scale is fixed.)
      const swin = 'kernel_func' in hp || 'window_size' in hp;
      return {
        options: { num_heads: hp['num_heads'], qkv_bias: hp['qkv_bias'] ?? swin, kernel: swin ? (hp['kernel_func'] ?? 'identity') : 'identity', cls_token: !swin, init: 'pytorch' },
        dModel: Number(hp['dim']),
        causal: false,
      };
    },
  },
});
