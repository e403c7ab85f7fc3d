// Griffin's recurrent block with the RG-LRU (De et al. 2024, "Griffin: Mixing Gated Linear
// Recurrences with Local Attention", §2.4 Eq. 1–4, Fig. 2), following google-deepmind/recurrentgemma
// (torch `modules.RecurrentBlock`, `layers.RGLRU`). Both branches of the block are included:
//   y = GeLU(xW_y + b_y);  u = Conv1D_4(xW_x + b_x);  out = (RG-LRU(u) ⊙ y) W_O + b_O
//   r_t = σ(u W_a + b_a), i_t = σ(u W_x' + b_x'), a_t = σ(Λ)^{c r_t} (c = 8),
//   h_t = a_t ⊙ h_{t−1} + sqrt(1 − a_t²) ⊙ (i_t ⊙ u_t)       (paper Tab. A3 Griffin row; Tab. 2: Λ_t)
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, gelu } from '../layers/basic.js';
import { causalConv1d } from '../layers/short_conv.js';
import { hgrn } from '../ops/hgrn/index.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer, type MixerState } from './types.js';

const options = z
  .object({
    /** RNN width / d (recurrentgemma: lru_width = width; the paper's Griffin uses 4/3). */
    expand: z.number().positive().max(8).default(1),
    /** Blocks of the block-diagonal gate projections W_a, W_x' (recurrentgemma: num_heads). */
    num_heads: z.number().int().positive().default(4),
    /** Temporal Conv1D width (paper: 4); 0 = no convolution. */
    conv_size: z.number().int().min(0).max(16).default(4),
    /** The constant c in a_t = σ(Λ)^{c r_t} (paper: 8). */
    c: z.number().positive().default(8),
    /** Ring of σ(Λ) at init: σ(Λ)² ~ U(r_min², r_max²) (recurrentgemma rnn_param_init: 0.9 … 0.999). */
    r_min: z.number().gt(0).lt(1).default(0.9),
    r_max: z.number().gt(0).lt(1).default(0.999),
  })
  .strict();

type Opts = z.infer<typeof options>;

/** Largest gradient of sqrt at 0 (recurrentgemma SqrtBoundDerivative, MAX_SQRT_GRADIENT). */
const MAX_SQRT_GRADIENT = 1000;

/** sqrt(x) whose gradient is capped at MAX_SQRT_GRADIENT (finite when 1 − a² reaches 0). */
const sqrtBounded = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return {
    value: tf.sqrt(x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.div(dy, tf.mul(2, tf.sqrt(tf.maximum(saved[0]!, 1 / MAX_SQRT_GRADIENT ** 2)))),
  };
});

/**
 * RG-LRU (paper Eq. 1–4) on gated inputs; exported for tests.
 * @param u      input [B, T, W] (the conv branch)
 * @param zx     input-gate logits [B, T, W] (i_t = σ(zx))
 * @param za     recurrence-gate logits [B, T, W] (r_t = σ(za))
 * @param aParam [W]; log σ(Λ) = −softplus(aParam), i.e. Λ = −aParam (recurrentgemma's `a_param`)
 * @returns h [B, T, W], log a_t [B, T, W] and the final state [B, W] when asked
 */
export function rgLru(u: tf.Tensor3D, zx: tf.Tensor3D, za: tf.Tensor3D, aParam: tf.Tensor1D, c: number, opts: { state?: tf.Tensor2D; wantState?: boolean } = {}): { h: tf.Tensor3D; logA: tf.Tensor3D; state?: tf.Tensor2D } {
  // log a_t = c · r_t · log σ(Λ) ≤ 0
  const logA = tf.mul(tf.mul(-c, tf.sigmoid(za)), tf.softplus(aParam)) as tf.Tensor3D;
  // sqrt(1 − a_t²) = sqrt(−expm1(2 log a_t)), exact for a_t near 1.
  const mult = sqrtBounded(tf.neg(tf.expm1(tf.mul(2, logA))));
  const x = tf.mul(tf.mul(tf.sigmoid(zx), u), mult) as tf.Tensor3D;
  // Porting note: recurrentgemma also sets the multiplier to 1 at a document's first token; we keep Eq. 4 as written.
  const r = hgrn(x, logA, { initialState: opts.state, wantState: opts.wantState === true });
  return { h: r.o, logA, state: r.finalState };
}

/** x [B, T, W] · block-diag(w [H, W/H, W/H]) + b [W]: per-head dense without a broadcast matMul. */
function blockDiag(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor): tf.Tensor3D {
  const [B, T, W] = x.shape;
  const [H, hd] = [w.shape[0]!, w.shape[1]!];
  const xh = tf.transpose(tf.reshape(x, [B * T, H, hd]), [1, 0, 2]); // [H, B·T, hd]
  const y = tf.transpose(tf.matMul(xh, w as tf.Tensor3D), [1, 0, 2]); // [B·T, H, hd]
  return tf.add(tf.reshape(y, [B, T, W]), b) as tf.Tensor3D;
}

function rnnWidth(o: Opts, d: number): number {
  return Math.round(o.expand * d);
}

export const griffin = defineMixer({
  name: 'griffin',
  family: 'linrnn',
  cite: 'De et al. 2024, Griffin (arXiv 2402.19427), §2.4 Eq. 1–4; google-deepmind/recurrentgemma RecurrentBlock + RGLRU',
  form: {
    f_q: '1',
    f_k: 'sqrt(1 − α_t²)',
    f_v: 'σ(uW_x + b_x) ⊙ u, u = Conv1D(xW + b)',
    f_alpha: 'σ(Λ)^{c·σ(uW_a + b_a)}, c = 8',
    f_g: 'GeLU(xW_y + b_y)',
  },
  properties: { C0: true, C1: true, C2: false, C3: false },
  options,
  stateSize: (o, d) => rnnWidth(o, d) * Math.max(1, o.conv_size),
  // W_y, W_x (d×W, +W), conv (c·W + W), gates (2·(W²/H + W)), Λ (W), W_O (W×d + d)
  paramCount: (o, d) => {
    const w = rnnWidth(o, d);
    return 3 * d * w + 2 * w + (o.conv_size > 0 ? (o.conv_size + 1) * w : 0) + 2 * ((w * w) / o.num_heads + w) + w + d;
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const w = rnnWidth(o, d);
    const hd = w / o.num_heads;
    if (!Number.isInteger(hd)) throw new MetalaError(`model.mixer.num_heads: RNN width ${w} (d_model ${d} × expand ${o.expand}) does not split into ${o.num_heads} blocks. Pick a divisor of ${w}`);
    if (o.r_min >= o.r_max) throw new MetalaError(`model.mixer.r_min: ${o.r_min} must be below r_max (${o.r_max}). Lower r_min or raise r_max`);
    const p = ctx.params;
    // recurrentgemma inits: LeCun-normal (std 1/√fan_in) for dense and gate weights, zero biases;
    // W_O with variance 2/(n_layers · W) (final_w_init_variance_scale).
    const lin = (name: string, i: number, out: number, std: number): { w: tf.Variable; b: tf.Variable } => {
      const l = p.linear(name, i, out, { kind: 'normal', std }, true);
      return { w: l.w, b: l.b! };
    };
    const ly = lin('linear_y', d, w, 1 / Math.sqrt(d));
    const lx = lin('linear_x', d, w, 1 / Math.sqrt(d));
    const lo = lin('linear_out', w, d, Math.sqrt(2 / ctx.nLayers / w));
    const conv =
      o.conv_size > 0
        ? {
            w: p.add('conv_1d.w', [o.conv_size, w], { kind: 'normal', std: 1 / Math.sqrt(o.conv_size) }, { decay: false }),
            b: p.add('conv_1d.b', [w], { kind: 'zeros' }, { decay: false }),
          }
        : undefined;
    const gate = (name: string): { w: tf.Variable; b: tf.Variable } => ({
      w: p.add(`rg_lru.${name}_gate_weight`, [o.num_heads, hd, hd], { kind: 'normal', std: 1 / Math.sqrt(hd) }),
      b: p.add(`rg_lru.${name}_gate_bias`, [o.num_heads, hd], { kind: 'zeros' }, { decay: false }),
    });
    const gx = gate('input');
    const ga = gate('a');
    // softplus(a_param) = −log σ(Λ) = −½ log(ρ), ρ ~ U(r_min², r_max²) ⇒ σ(Λ) = √ρ on the ring.
    const aParam = p.add('rg_lru.a_param', [w], {
      kind: 'custom',
      values: (n, rng) => Float32Array.from({ length: n }, () => Math.log(Math.expm1(-0.5 * Math.log(o.r_min ** 2 + rng.next() * (o.r_max ** 2 - o.r_min ** 2))))),
    }, { decay: false });

    return {
      forward(x, opts = {}) {
        const y = gelu(dense(x, ly.w, ly.b)); // [B, T, W]
        let u = dense(x, lx.w, lx.b) as tf.Tensor3D;
        let convCache: tf.Tensor3D | undefined;
        if (conv !== undefined) {
          const cv = causalConv1d(u, conv.w as tf.Tensor2D, opts.state?.['conv'] as tf.Tensor3D | undefined);
          u = tf.add(cv.y, conv.b) as tf.Tensor3D;
          convCache = cv.cache;
        }
        const r = rgLru(u, blockDiag(u, gx.w, tf.reshape(gx.b, [w])), blockDiag(u, ga.w, tf.reshape(ga.b, [w])), aParam as tf.Tensor1D, o.c, {
          state: opts.state?.['h'] as tf.Tensor2D | undefined,
          wantState: opts.wantState === true,
        });
        const out = dense(tf.mul(r.h, y), lo.w, lo.b) as tf.Tensor3D;
        if (opts.wantState !== true) return { y: out };
        const state: MixerState = { h: r.state! };
        if (convCache !== undefined) state['conv'] = convCache;
        return { y: out, state };
      },
    };
  },
});
