// DSS (Gupta et al. 2022, "Diagonal State Spaces are as Effective as Structured State Spaces";
// paper-metala.md §1.3 Tab. A2 rows "DSS, S4D, H3", Tab. 7 "DSS-softmax"), following ag1988/dss
// `src/models/sequence/ss/standalone/dss.py`: K_l = Re(Σ_n W_n Λ_n⁻¹ (e^{Δλ_n} − 1)/(e^{LΔλ_n} − 1) e^{lΔλ_n}),
// i.e. a ZOH-discretised diagonal SSM (Ā = e^{ΔΛ}) whose B̄ is normalised by the softmax over the
// L kernel positions. Λ (N complex modes, shared by the channels) is initialised to the HiPPO
// skew spectrum −1/2 + iω; Δ per channel, separate for Re and Im (`sep_dt_re_im`); GELU + Linear out.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, gelu } from '../layers/basic.js';
import { cdiv, cexp, cexpm1, cmul, cscale, diagSsm, hippoSkewFrequencies, type Cx } from '../ops/diag_ssm/index.js';
import { MetalaError } from '../util/errors.js';
import { ssmStateIn } from './s4d.js';
import { defineMixer, type MixerState } from './types.js';

const options = z
  .object({
    /** N complex modes per channel (dss.py `d_state` 64); the state holds 2N floats per channel. */
    d_state: z.number().int().positive().default(64),
    /** `softmax`: DSS-softmax (Re Λ free); `exp`: DSS-exp (Re Λ = −exp(·) < 0, B̄ = (e^{ΔΛ} − 1)/Λ). */
    version: z.enum(['softmax', 'exp']).default('softmax'),
    dt_min: z.number().positive().default(1e-3),
    dt_max: z.number().positive().default(1e-1),
    /** L of the softmax normaliser; default: the model's max_seq_len. */
    l_max: z.number().int().positive().optional(),
  })
  .strict();

export const dss = defineMixer({
  name: 'dss',
  family: 'ssm',
  cite: 'Gupta, Gu & Berant 2022, DSS (NeurIPS), DSS-softmax; ag1988/dss src/models/sequence/ss/standalone/dss.py',
  form: { f_q: 'C (= W)', f_k: 'softmax: Λ⁻¹(exp(ΔΛ) − I)/(exp(LΔΛ) − I) | exp: Λ⁻¹(exp(ΔΛ) − I)', f_v: 'x', f_alpha: 'exp(ΔΛ)', f_g: '1' },
  properties: { C0: true, C1: false, C2: false, C3: false },
  options,
  stateSize: (o, d) => 2 * o.d_state * d,
  // log Δ (2d), Λ (2N), W (2dN), D (d), output Linear (d² + d)
  paramCount: (o, d) => 2 * d + 2 * o.d_state + 2 * d * o.d_state + d + d * d + d,
  create: (o, ctx) => {
    if (o.dt_min > o.dt_max) throw new MetalaError(`model.mixer: dss: dt_min ${o.dt_min} exceeds dt_max ${o.dt_max}. Swap them`);
    const d = ctx.dModel;
    const N = o.d_state;
    const L = o.l_max ?? ctx.maxSeqLen;
    const p = ctx.params;
    const kp = p.scope('kernel');
    const omega = hippoSkewFrequencies(2 * N); // Λ = −1/2 + iω, ω descending (`hippo_skew_evals(2N)[:N] − .5`)
    const [lo, hi] = [Math.log(o.dt_min), Math.log(o.dt_max)];
    // log Δ [H, 2]: one draw per channel, copied to the Re and Im columns.
    const drawDt = (n: number, rng: { next(): number }): Float32Array => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i += 2) a[i] = a[i + 1] = lo + rng.next() * (hi - lo);
      return a;
    };
    const logDt = kp.add('log_dt', [d, 2], { kind: 'custom', values: drawDt }, { decay: false });
    const lamRe =
      o.version === 'softmax'
        ? undefined
        : kp.add('Lambda_log_neg_re', [N], { kind: 'const', value: Math.log(0.5) }, { decay: false });
    const lambda =
      o.version === 'softmax'
        ? kp.add('Lambda', [N, 2], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -0.5 : omega[(i - 1) / 2]!)) }, { decay: false })
        : kp.add('Lambda_im', [N], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => omega[i]!) }, { decay: false });
    const W = kp.add('W', [d, N, 2], { kind: 'normal', std: 1 }, { decay: false, fileShape: [1, d, N, 2] });
    const skip = p.add('D', [d], { kind: 'normal', std: 1 }, { fileShape: [1, d] });
    // TransposedLinear (nn.Linear default init): U(±1/√d) for weight and bias.
    const bound = 1 / Math.sqrt(d);
    const wOut = p.add('output_linear.weight', [d, d], { kind: 'uniform', bound }, { layout: 'linear' });
    const bOut = p.add('output_linear.bias', [d], { kind: 'uniform', bound }, { fileShape: [d, 1], decay: false });

    const col = (x: tf.Tensor, rows: number, k: number): tf.Tensor => tf.reshape(tf.slice(x, [0, k], [rows, 1]), [rows]);
    const as4 = (x: tf.Tensor): tf.Tensor4D => tf.reshape(x, [1, 1, d, N]);
    const discretised = (): { logA: tf.Tensor4D; angleA: tf.Tensor4D; b: tf.Tensor4D; bIm: tf.Tensor4D; c: tf.Tensor4D; cIm: tf.Tensor4D } => {
      const lam: Cx =
        lamRe === undefined
          ? { re: tf.reshape(col(lambda, N, 0), [1, N]), im: tf.reshape(col(lambda, N, 1), [1, N]) }
          : { re: tf.reshape(tf.neg(tf.exp(lamRe)), [1, N]), im: tf.reshape(lambda, [1, N]) };
      const dt0 = tf.reshape(tf.exp(col(logDt, d, 0)), [d, 1]);
      const dt1 = tf.reshape(tf.exp(col(logDt, d, 1)), [d, 1]);
      const w: Cx = { re: tf.mul(dt0, lam.re), im: tf.mul(dt1, lam.im!) }; // ΔΛ [d, N]
      let bBar: Cx;
      if (o.version === 'exp') {
        bBar = cdiv(cexpm1(w), lam);
      } else {
        // (e^w − 1)/(e^{Lw} − 1); for Re Λ > 0 the code evaluates it as e^{−(L−1)w}(e^{−w} − 1)/(e^{−Lw} − 1)
        // so nothing overflows. pos = 1[Re Λ > 0] (tf.step: zero gradient); the −(L−1)w·pos exponent is 0 elsewhere.
        const pos = tf.step(lam.re);
        const wn = cscale(w, tf.sub(1, tf.mul(2, pos)));
        bBar = cmul(cdiv(cexpm1(wn), cmul(cexpm1(cscale(wn, L)), lam), 1e-7), cexp(cscale(w, tf.mul(-(L - 1), pos))));
      }
      const c = tf.reshape(W, [d * N, 2]);
      return { logA: as4(w.re), angleA: as4(w.im!), b: as4(bBar.re), bIm: as4(bBar.im!), c: as4(col(c, d * N, 0)), cIm: as4(col(c, d * N, 1)) };
    };

    return {
      forward(x, opts = {}) {
        // Porting note: DSS normalises over the length of the current input; a causal, recurrent
        // mixer needs a fixed L, so the normaliser uses l_max (the kernel length DSS would use at
        // max_seq_len). With Re Λ > 0 the state grows like e^{tΔ Re Λ} (bounded by l_max).
        const r = diagSsm({ x, ...discretised(), skip: skip as tf.Tensor1D }, { initialState: ssmStateIn(opts.state), wantState: opts.wantState === true });
        // Porting note: nn.GELU is the exact erf form; layers/basic.ts has the tanh approximation (|Δ| < 1e-3).
        const y = dense(gelu(r.y), wOut, bOut) as tf.Tensor3D;
        if (opts.wantState !== true) return { y };
        const state: MixerState = { h: r.finalState!.re, h_im: r.finalState!.im! };
        return { y, state };
      },
    };
  },
});
