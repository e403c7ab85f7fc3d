// S5 (Smith, Warrington & Linderman 2023, "Simplified State Space Layers for Sequence Modeling";
// paper-metala.md §1.3 Tab. A2 row "S5 (MIMO)": f_q = f_k = 1, f_v = x·B̄, f_α = exp(ΔΛ), W_O = C),
// following lindermanlab/S5 `s5/ssm.py` (S5SSM, conj_sym), `ssm_init.py` and `layers.py`
// (SequenceLayer activations): one complex diagonal state of P/2 modes shared by all d channels,
// h_t = Λ̄ ⊙ h_{t−1} + B̄ x_t, y_t = 2·Re(C̃ h_t) + D ⊙ x_t, per-state Δ; then GELU / GLU out.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, gelu } from '../layers/basic.js';
import { diagScan, discretize, hippoSkewFrequencies } from '../ops/diag_ssm/index.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer, type MixerState } from './types.js';

const options = z
  .object({
    /** P (run_train `ssm_size_base`): floats of state; conjugate symmetry keeps P/2 complex modes. */
    d_state: z.number().int().positive().default(256),
    /** J: Λ is initialised block-diagonally with HiPPO-N of size P/J in each block. */
    blocks: z.number().int().positive().default(8),
    discretization: z.enum(['zoh', 'bilinear']).default('zoh'),
    dt_min: z.number().positive().default(1e-3),
    dt_max: z.number().positive().default(1e-1),
    /** Re Λ ≤ −1e-4. Upstream default false; its docstring recommends true for autoregressive use. */
    clip_eigs: z.boolean().default(true),
    /** SequenceLayer activation (run_train default `half_glu1`). */
    activation: z.enum(['half_glu1', 'half_glu2', 'full_glu', 'gelu']).default('half_glu1'),
  })
  .strict();

type Opts = z.infer<typeof options>;

function outParams(o: Opts, d: number): number {
  return o.activation === 'gelu' ? 0 : o.activation === 'full_glu' ? 2 * (d * d + d) : d * d + d;
}

export const s5 = defineMixer({
  name: 's5',
  family: 'ssm',
  cite: 'Smith, Warrington & Linderman 2023, S5 (ICLR); lindermanlab/S5 s5/ssm.py, ssm_init.py, layers.py',
  form: { f_q: '1', f_k: '1', f_v: 'x·B̄, B̄ = (ΔΛ)⁻¹(exp(ΔΛ) − I)ΔB', f_alpha: 'exp(ΔΛ)', f_g: '1 (W_O = C)' },
  properties: { C0: true, C1: false, C2: false, C3: false },
  options,
  stateSize: (o) => o.d_state,
  // Λ_re, Λ_im, log Δ (3·P/2), B̃ and C̃ (complex P/2 × d each), D (d), output dense(s)
  paramCount: (o, d) => {
    const ph = o.d_state / 2;
    return 3 * ph + 4 * ph * d + d + outParams(o, d);
  },
  create: (o, ctx) => {
    const P = o.d_state;
    const bs = P / o.blocks;
    if (P % 2 !== 0 || !Number.isInteger(bs) || bs % 2 !== 0) {
      throw new MetalaError(`model.mixer: s5: d_state ${P} must split into ${o.blocks} blocks of even size. Pick d_state a multiple of 2·blocks`);
    }
    if (o.dt_min > o.dt_max) throw new MetalaError(`model.mixer: s5: dt_min ${o.dt_min} exceeds dt_max ${o.dt_max}. Swap them`);
    const d = ctx.dModel;
    const ph = P / 2;
    const p = ctx.params;
    // Λ: per block, HiPPO-N = −1/2 + skew; eigh's ascending first half gives Im Λ = −ω (largest first).
    const omega = hippoSkewFrequencies(bs);
    const lamRe = p.add('Lambda_re', [ph], { kind: 'const', value: -0.5 }, { decay: false });
    const lamIm = p.add('Lambda_im', [ph], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => -omega[i % (bs / 2)]!) }, { decay: false });
    // Porting note: upstream draws B (P×d) and C (d×P) real/lecun-normal and maps them with the
    // HiPPO eigenvectors V (B̃ = V⁻¹B, C̃ = CV). V is unitary, so B̃, C̃ are drawn directly as complex
    // normals of the variance that map produces: Re, Im of B̃ ~ N(0, 1/(2P)), of C̃ ~ N(0, 1/P).
    // opt_config 'standard': Λ, B and log Δ are SSM parameters without weight decay; C decays.
    const bT = p.add('B', [ph, d, 2], { kind: 'normal', std: 1 / Math.sqrt(2 * P) }, { decay: false });
    const cT = p.add('C', [d, ph, 2], { kind: 'normal', std: 1 / Math.sqrt(P) });
    const skip = p.add('D', [d], { kind: 'normal', std: 1 });
    const [lo, hi] = [Math.log(o.dt_min), Math.log(o.dt_max)];
    const drawLogStep = (n: number, rng: { next(): number }): Float32Array => Float32Array.from({ length: n }, () => lo + rng.next() * (hi - lo));
    const logStep = p.add('log_step', [ph], { kind: 'custom', values: drawLogStep }, { decay: false, fileShape: [ph, 1] });
    // flax Dense: lecun_normal kernel [in, out] (std 1/√d), zero bias.
    const dense2 = (name: string) => ({
      w: p.add(`${name}.kernel`, [d, d], { kind: 'normal', std: 1 / Math.sqrt(d) }),
      b: p.add(`${name}.bias`, [d], { kind: 'zeros' }),
    });
    const out1 = o.activation === 'full_glu' ? dense2('out1') : undefined;
    const out2 = o.activation === 'gelu' ? undefined : dense2('out2');
    const part = (x: tf.Tensor, rows: number, cols: number, k: number): tf.Tensor2D => tf.reshape(tf.slice(x, [0, 0, k], [rows, cols, 1]), [rows, cols]) as tf.Tensor2D;

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const re = o.clip_eigs ? tf.minimum(lamRe, -1e-4) : lamRe;
        const step = tf.exp(logStep); // Δ per state [P/2]
        const dtA = { re: tf.reshape(tf.mul(step, re), [ph, 1]), im: tf.reshape(tf.mul(step, lamIm), [ph, 1]) };
        const st = tf.reshape(step, [ph, 1]);
        const dtB = { re: tf.mul(st, part(bT, ph, d, 0)), im: tf.mul(st, part(bT, ph, d, 1)) }; // [P/2, d]
        const disc = discretize(dtA, dtB, o.discretization);
        // u_t = B̄ x_t: [B,T,d]·[d,P/2] per part.
        const u = dense(x, tf.transpose(disc.bBar.re)) as tf.Tensor3D;
        const uIm = dense(x, tf.transpose(disc.bBar.im!)) as tf.Tensor3D;
        const prev = opts.state?.['h'];
        const r = diagScan(
          { u, uIm, logA: tf.reshape(disc.logA, [1, 1, ph]) as tf.Tensor3D, angleA: tf.reshape(disc.angleA!, [1, 1, ph]) as tf.Tensor3D },
          { initialState: prev === undefined ? undefined : { re: prev as tf.Tensor2D, im: opts.state!['h_im'] as tf.Tensor2D }, wantState: opts.wantState === true },
        );
        // y = 2·Re(C̃ h) + D x
        const cRe = tf.transpose(part(cT, d, ph, 0));
        const cIm = tf.transpose(part(cT, d, ph, 1));
        const ys = tf.add(tf.mul(2, tf.sub(dense(r.h.re, cRe), dense(r.h.im!, cIm))), tf.mul(x, skip));
        let y: tf.Tensor;
        const g = gelu(ys); // flax nn.gelu: tanh approximation, as layers/basic.ts
        if (o.activation === 'gelu') y = g;
        else if (o.activation === 'full_glu') y = tf.mul(dense(g, out1!.w, out1!.b), tf.sigmoid(dense(g, out2!.w, out2!.b)));
        else if (o.activation === 'half_glu1') y = tf.mul(g, tf.sigmoid(dense(g, out2!.w, out2!.b)));
        else y = tf.mul(ys, tf.sigmoid(dense(g, out2!.w, out2!.b)));
        const y3 = tf.reshape(y, [B, T, d]) as tf.Tensor3D;
        if (opts.wantState !== true) return { y: y3 };
        const state: MixerState = { h: r.finalState!.re, h_im: r.finalState!.im! };
        return { y: y3, state };
      },
    };
  },
});
