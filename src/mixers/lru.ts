// LRU, the Linear Recurrent Unit (Orvieto et al., "Resurrecting Recurrent Neural Networks for Long
// Sequences", ICML 2023, §3 and the App. A reference code): a complex diagonal recurrence
//   h_t = Λ ⊙ h_{t−1} + γ ⊙ (B x_t),  y_t = Re(C h_t) + D ⊙ x_t,  Λ = exp(−exp(ν) + i·exp(θ)),
// with ring init of |Λ| and γ = sqrt(1 − |Λ|²). Paper Tab. A3 LRU row: f_v = xB, f_α = Λ (fixed),
// W_O = C; Tab. 2: (Λ) ⇒ C0 only. The complex scan is src/ops/complex_scan.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense } from '../layers/basic.js';
import { complexScan } from '../ops/complex_scan/index.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer } from './types.js';

const options = z
  .object({
    /** State width N / d (the paper uses N = d/2 … d; N = d here by default). */
    state_ratio: z.number().positive().max(8).default(1),
    /**
     * Ring of the initial |λ|: r² ~ U(r_min², r_max²). The App. A code defaults to 0 … 1; the paper's
     * long-range tasks use r_min ≥ 0.9 with r_max = 0.999, our default (near-unit memory at init).
     */
    r_min: z.number().min(0).lt(1).default(0.9),
    r_max: z.number().gt(0).lt(1).default(0.999),
    /** Initial phases θ ~ U(0, max_phase) (App. A code: 6.28; π/10 for PathX). */
    max_phase: z.number().positive().default(2 * Math.PI),
  })
  .strict();

type Opts = z.infer<typeof options>;

function stateWidth(o: Opts, d: number): number {
  return Math.max(1, Math.round(o.state_ratio * d));
}

export const lru = defineMixer({
  name: 'lru',
  family: 'linrnn',
  cite: 'Orvieto et al. 2023, LRU (ICML), §3 + App. A code (lru.py)',
  form: { f_q: '1', f_k: '1', f_v: 'γ ⊙ xB (B complex)', f_alpha: 'Λ = exp(−e^ν + i e^θ) (fixed)', f_g: '1 (W_O = C: y = Re(Ch) + D ⊙ x)' },
  properties: { C0: true, C1: false, C2: false, C3: false },
  options,
  // h as (re, im)
  stateSize: (o, d) => 2 * stateWidth(o, d),
  // ν, θ, γ (N each), B_re, B_im (d×N), C_re, C_im (N×d), D (d)
  paramCount: (o, d) => {
    const n = stateWidth(o, d);
    return 3 * n + 4 * d * n + d;
  },
  create: (o, ctx) => {
    const d = ctx.dModel;
    const n = stateWidth(o, d);
    if (o.r_min >= o.r_max) throw new MetalaError(`model.mixer.r_min: ${o.r_min} must be below r_max (${o.r_max}). Lower r_min or raise r_max`);
    const p = ctx.params;
    // |λ| = exp(−exp(ν)) with |λ|² ~ U(r_min², r_max²); γ needs the same draw, so keep it.
    let mags = new Float64Array(0);
    const nuLog = p.add('nu_log', [n], {
      kind: 'custom',
      values: (len, rng) => {
        mags = Float64Array.from({ length: len }, () => Math.sqrt(rng.next() * (o.r_max ** 2 - o.r_min ** 2) + o.r_min ** 2));
        return Float32Array.from(mags, (r) => Math.log(-Math.log(Math.max(r, 1e-30))));
      },
    }, { decay: false });
    const thetaLog = p.add('theta_log', [n], { kind: 'custom', values: (len, rng) => Float32Array.from({ length: len }, () => Math.log(o.max_phase * Math.max(rng.next(), 1e-12))) }, { decay: false });
    // γ = sqrt(1 − |λ|²), a trainable log (App. A code: gamma_log).
    const gammaLog = p.add('gamma_log', [n], { kind: 'custom', values: () => Float32Array.from(mags, (r) => 0.5 * Math.log(1 - r * r)) }, { decay: false });
    // B ~ N(0, 1/(2d)) per part, C ~ N(0, 1/N) per part, D ~ N(0, 1) (App. A code).
    const bInit = { kind: 'normal', std: 1 / Math.sqrt(2 * d) } as const;
    const cInit = { kind: 'normal', std: 1 / Math.sqrt(n) } as const;
    const bRe = p.add('B_re', [d, n], bInit, { layout: 'linear' });
    const bIm = p.add('B_im', [d, n], bInit, { layout: 'linear' });
    const cRe = p.add('C_re', [n, d], cInit, { layout: 'linear' });
    const cIm = p.add('C_im', [n, d], cInit, { layout: 'linear' });
    const dSkip = p.add('D', [d], { kind: 'normal', std: 1 }, { decay: false });

    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const gamma = tf.exp(gammaLog);
        // γ ⊙ B x as (re, im), [B, T, N]
        const uRe = tf.mul(dense(x, bRe), gamma) as tf.Tensor3D;
        const uIm = tf.mul(dense(x, bIm), gamma) as tf.Tensor3D;
        // log|λ| = −e^ν, arg λ = e^θ; one λ for every step.
        const logMag = tf.broadcastTo(tf.neg(tf.exp(nuLog)), [B, T, n]) as tf.Tensor3D;
        const phase = tf.broadcastTo(tf.exp(thetaLog), [B, T, n]) as tf.Tensor3D;
        const r = complexScan(uRe, uIm, logMag, phase, { initialState: opts.state?.['h'] as tf.Tensor3D | undefined, wantState: opts.wantState === true });
        // Re(C h) = C_re h_re − C_im h_im
        const y = tf.add(tf.sub(dense(r.re, cRe), dense(r.im, cIm)), tf.mul(x, dSkip)) as tf.Tensor3D;
        return opts.wantState === true ? { y, state: { h: r.finalState! } } : { y };
      },
    };
  },
});
