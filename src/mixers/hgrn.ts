// HGRN token mixer: the gated linear recurrent unit GLRU (Qin et al., "Hierarchically Gated Recurrent
// Neural Network for Sequence Modeling", NeurIPS 2023, Eq. 5–9), following fla `layers/hgrn.py`
// (HGRNAttention) with the real-valued recurrence of src/ops/hgrn:
//   f_t = λ_l + (1 − λ_l) σ(xW_f + b_f),  h_t = f_t ⊙ h_{t−1} + (1 − f_t) ⊙ SiLU(xW_c + b_c)
//   y_t = (RMSNorm(h_t) ⊙ SiLU(xW_g + b_g)) W_O          (paper Tab. A3 GLRU row; Tab. 2: (K, Λ_t))
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, logSigmoid, mulSilu, rmsNorm } from '../layers/basic.js';
import { hgrn as hgrnScan } from '../ops/hgrn/index.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer } from './types.js';

const options = z
  .object({
    /** Recurrent width / d (fla `expand_ratio`). */
    expand_ratio: z.number().int().positive().default(1),
    /**
     * Lower bound λ_l of the forget gate. 'depth': λ_l = l / L for layer l of L (0 in the first
     * layer, rising with depth), the value HGRN's learned bounds start from. A number fixes it.
     */
    lower_bound: z.union([z.literal('depth'), z.number().min(0).lt(1)]).default('depth'),
    /** Input gate: 'tied' i_t = 1 − f_t (HGRN, fla); 'separate' i_t = σ(xW_i + b_i) (paper Tab. A3's f_k). */
    input_gate: z.enum(['tied', 'separate']).default('tied'),
    /** Biases b_f, b_c, b_g (and b_i) as in Tab. A3; fla's layer has none (false). */
    bias: z.boolean().default(true),
    norm_eps: z.number().positive().default(1e-5),
    init_std: z.number().positive().default(0.02),
  })
  .strict();

type Opts = z.infer<typeof options>;

function width(o: Opts, d: number): number {
  return o.expand_ratio * d;
}

export const hgrn = defineMixer({
  name: 'hgrn',
  family: 'linrnn',
  cite: 'Qin et al. 2023, HGRN (NeurIPS), Eq. 5–9; fla-org/flash-linear-attention fla/layers/hgrn.py (HGRNAttention)',
  form: {
    f_q: '1',
    f_k: '1 − f_t (tied; option: σ(xW_i + b_i))',
    f_v: 'SiLU(xW_c + b_c)',
    f_alpha: 'f_t = λ_l + (1 − λ_l)·σ(xW_f + b_f), λ_l rising with depth',
    f_g: 'SiLU(xW_g + b_g) (after RMSNorm)',
  },
  properties: { C0: true, C1: true, C2: false, C3: false },
  options,
  stateSize: (o, d) => width(o, d),
  // W_c, W_f, W_g (d×e), W_O (e×d), RMSNorm gain (e), biases (3e), [W_i (d×e) + b_i (e)]
  paramCount: (o, d) => {
    const e = width(o, d);
    const sep = o.input_gate === 'separate' ? 1 : 0;
    return (3 + sep) * d * e + e * d + e + (o.bias ? (3 + sep) * e : 0);
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const e = width(o, d);
    const lb = o.lower_bound === 'depth' ? ctx.layer / ctx.nLayers : o.lower_bound;
    if (!(lb >= 0 && lb < 1)) throw new MetalaError(`model.mixer.lower_bound: layer ${ctx.layer} of ${ctx.nLayers} gives ${lb}, outside [0, 1). Set lower_bound to a number in [0, 1)`);
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    // fla names: i_proj is the candidate c (SiLU'd), f_proj the forget gate, g_proj the output gate.
    const c = p.linear('i_proj', d, e, init, o.bias);
    const f = p.linear('f_proj', d, e, init, o.bias);
    const g = p.linear('g_proj', d, e, init, o.bias);
    const ig = o.input_gate === 'separate' ? p.linear('input_gate_proj', d, e, init, o.bias) : undefined;
    const normW = p.add('g_norm.weight', [e], { kind: 'ones' }, { decay: false });
    const wo = p.linear('o_proj', e, d, init).w;

    return {
      forward(x, opts = {}) {
        const zf = dense(x, f.w, f.b); // [B, T, e]
        // log f_t = log(λ + (1 − λ)σ(z)); fla computes logaddexp(log λ, log(1−λ) + logσ(z)) — the same.
        // Porting note: HGRN learns λ_l (softmax over layers, cumsum); here it is fixed at that init.
        const logF = (lb === 0 ? logSigmoid(zf) : tf.log(tf.add(lb, tf.mul(1 - lb, tf.sigmoid(zf))))) as tf.Tensor3D;
        // Tied input gate 1 − f = (1 − λ)σ(−z), exact even when f is close to 1.
        const gate = ig === undefined ? tf.mul(1 - lb, tf.sigmoid(tf.neg(zf))) : tf.sigmoid(dense(x, ig.w, ig.b));
        const xin = mulSilu(gate, dense(x, c.w, c.b)) as tf.Tensor3D;
        const r = hgrnScan(xin, logF, { initialState: opts.state?.['h'] as tf.Tensor2D | undefined, wantState: opts.wantState === true });
        // fla FusedRMSNormGated: RMSNorm(h)·w ⊙ SiLU(g).
        const o2 = mulSilu(tf.mul(rmsNorm(r.o, o.norm_eps), normW), dense(x, g.w, g.b));
        const y = dense(o2, wo) as tf.Tensor3D;
        return opts.wantState === true ? { y, state: { h: r.finalState! } } : { y };
      },
    };
  },
});
