// S4D (Gu et al. 2022, "On the Parameterization and Initialization of Diagonal State Space
// Models"; paper-metala.md §1.3 Tab. A2 rows "DSS, S4D, H3"): per channel a diagonal SSM with
// f_q = C, f_k = B̄, f_v = x, f_α = Ā (ZOH or bilinear), fixed in time (Tab. 2: fails C1, C2).
// Follows state-spaces/s4 `models/s4/s4d.py` (S4D block: y = SSM(x) + D x, GELU, Conv1d(d, 2d) +
// GLU) with the learnable B of `SSKernelDiag`; computed by the diag_ssm op instead of an FFT conv.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, gelu } from '../layers/basic.js';
import type { ParamScope } from '../layers/params.js';
import { diagSsm, discretize, type Discretization } from '../ops/diag_ssm/index.js';
import { MetalaError } from '../util/errors.js';
import { defineMixer, type MixerState } from './types.js';

/** Options of one bank of S4D kernels (shared with h3.ts). */
export interface S4dKernelOptions {
  /** N: floats of state per channel (S4D-Lin: N/2 complex modes with their conjugates implied). */
  d_state: number;
  init: 'lin' | 'real';
  discretization: Discretization;
  dt_min: number;
  dt_max: number;
}

/** The time-invariant SSM of H channels, [1, 1, H, M] each, as `diagSsm` takes it. */
export interface LtiSsm {
  logA: tf.Tensor4D;
  angleA?: tf.Tensor4D;
  b: tf.Tensor4D;
  bIm?: tf.Tensor4D;
  c: tf.Tensor4D;
  cIm?: tf.Tensor4D;
}

/**
 * State floats per channel: N, except S4D-Real with bilinear: Ā = (1 + ΔA/2)/(1 − ΔA/2) turns
 * negative once Δ|A| > 2, and the op carries that sign as a phase π, i.e. a complex state (2N).
 */
export function s4dStatePerChannel(o: S4dKernelOptions): number {
  return o.init === 'real' && o.discretization === 'bilinear' ? 2 * o.d_state : o.d_state;
}

/** log Δ, A (2 parts or 1), B and C: 3·H·N + H floats for either init. */
export function s4dKernelParamCount(H: number, o: S4dKernelOptions): number {
  return 3 * H * o.d_state + H;
}

/** Option checks shared by s4d and h3 (MetalaError: the config names them). */
export function checkS4dKernel(name: string, o: S4dKernelOptions): void {
  if (o.init === 'lin' && o.d_state % 2 !== 0) {
    throw new MetalaError(`model.mixer: ${name}: d_state ${o.d_state} must be even with init 'lin' (N/2 complex modes). Use an even d_state or init: real`);
  }
  if (o.dt_min > o.dt_max) throw new MetalaError(`model.mixer: ${name}: dt_min ${o.dt_min} exceeds dt_max ${o.dt_max}. Swap them`);
}

/**
 * S4D kernel parameters (names of s4d.py / SSKernelDiag) for H independent SSMs.
 * S4D-Lin: A_n = −1/2 + iπn, n < N/2, B = 1, C ~ CN(0, 1), output 2·Re(C h) (conjugate pairs).
 * S4D-Real: A_n = −(n + 1), n < N, B = 1, C ~ N(0, 1), output C h.
 * log Δ ~ U[log dt_min, log dt_max] per channel. A = −exp(log_A_real) keeps Re A < 0.
 * Porting note: upstream's `diag-real` still stores N/2 modes and doubles them as conjugates (a
 * real mode counted twice); here S4D-Real has N distinct real modes, as Mamba's A init.
 * @returns a function recomputing the discretised SSM from the current parameter values
 */
export function s4dKernel(p: ParamScope, H: number, o: S4dKernelOptions): () => LtiSsm {
  const lin = o.init === 'lin';
  const M = lin ? o.d_state / 2 : o.d_state;
  const [lo, hi] = [Math.log(o.dt_min), Math.log(o.dt_max)];
  const logDt = p.add('log_dt', [H], { kind: 'custom', values: (n, rng) => Float32Array.from({ length: n }, () => lo + rng.next() * (hi - lo)) }, { decay: false });
  const logAReal = p.add('log_A_real', [H, M], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => Math.log(lin ? 0.5 : (i % M) + 1)) }, { decay: false });
  const aImag = lin ? p.add('A_imag', [H, M], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => Math.PI * (i % M)) }, { decay: false }) : undefined;
  // Complex B, C stored as [H, M, 2] (torch.view_as_real).
  const bShape = lin ? [H, M, 2] : [H, M];
  const bParam = p.add('B', bShape, { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => (lin && i % 2 === 1 ? 0 : 1)) }, { decay: false });
  const cParam = p.add('C', bShape, { kind: 'normal', std: lin ? Math.SQRT1_2 : 1 });
  const part = (x: tf.Tensor, k: number): tf.Tensor => tf.reshape(tf.slice(x, [0, 0, k], [H, M, 1]), [H, M]);
  const as4 = (x: tf.Tensor): tf.Tensor4D => tf.reshape(x, [1, 1, H, M]);
  return () => {
    const dt = tf.reshape(tf.exp(logDt), [H, 1]);
    const aRe = tf.neg(tf.exp(logAReal));
    const dtA = aImag === undefined ? { re: tf.mul(dt, aRe) } : { re: tf.mul(dt, aRe), im: tf.mul(dt, aImag) };
    const bRe = lin ? part(bParam, 0) : bParam;
    const dtB = lin ? { re: tf.mul(dt, bRe), im: tf.mul(dt, part(bParam, 1)) } : { re: tf.mul(dt, bRe) };
    const d = discretize(dtA, dtB, o.discretization);
    const out: LtiSsm = { logA: as4(d.logA), b: as4(d.bBar.re), c: as4(lin ? tf.mul(2, part(cParam, 0)) : cParam) };
    if (d.angleA !== undefined) out.angleA = as4(d.angleA);
    if (d.bBar.im !== undefined) out.bIm = as4(d.bBar.im);
    if (lin) out.cIm = as4(tf.mul(2, part(cParam, 1)));
    return out;
  };
}

/** Mixer state {h, h_im} ↔ the op's {re, im}. */
export function ssmStateIn(s: MixerState | undefined, key = 'h'): { re: tf.Tensor3D; im?: tf.Tensor3D } | undefined {
  const re = s?.[key];
  if (re === undefined) return undefined;
  const im = s?.[`${key}_im`];
  return im === undefined ? { re: re as tf.Tensor3D } : { re: re as tf.Tensor3D, im: im as tf.Tensor3D };
}

const options = z
  .object({
    /** N, floats of state per channel (s4d.py `d_state` 64: 32 complex modes). */
    d_state: z.number().int().positive().default(64),
    /** `lin`: S4D-Lin (complex, the S4D default); `real`: S4D-Real (real A_n = −(n+1), as Mamba). */
    init: z.enum(['lin', 'real']).default('lin'),
    /** s4d.py uses ZOH; SSKernelDiag's default is bilinear (with init real: complex state, see s4dStatePerChannel). */
    discretization: z.enum(['zoh', 'bilinear']).default('zoh'),
    dt_min: z.number().positive().default(1e-3),
    dt_max: z.number().positive().default(1e-1),
  })
  .strict();

export const s4d = defineMixer({
  name: 's4d',
  family: 'ssm',
  cite: 'Gu et al. 2022, S4D (NeurIPS), diagonal SSM; state-spaces/s4 models/s4/s4d.py (+ SSKernelDiag B)',
  form: { f_q: 'C', f_k: 'ZOH: (ΔA)⁻¹(exp(ΔA) − I)ΔB | bilinear: (I − Δ/2·A)⁻¹ΔB', f_v: 'x', f_alpha: 'exp(ΔA) | (I − Δ/2·A)⁻¹(I + Δ/2·A)', f_g: '1' },
  properties: { C0: true, C1: false, C2: false, C3: false },
  options,
  stateSize: (o, d) => d * s4dStatePerChannel(o),
  // kernel (3dN + d), D (d), output Conv1d(d, 2d, 1) (2d² + 2d)
  paramCount: (o, d) => s4dKernelParamCount(d, o) + d + 2 * d * d + 2 * d,
  create: (o, ctx) => {
    checkS4dKernel('s4d', o);
    const d = ctx.dModel;
    const p = ctx.params;
    const kernel = s4dKernel(p.scope('kernel'), d, o);
    const skip = p.add('D', [d], { kind: 'normal', std: 1 }, { decay: false });
    // Conv1d(d, 2d, kernel_size=1) default init: U(±1/√fan_in) for weight and bias.
    const bound = 1 / Math.sqrt(d);
    const wOut = p.add('output_linear.0.weight', [d, 2 * d], { kind: 'uniform', bound }, { layout: 'linear', fileShape: [2 * d, d, 1] });
    const bOut = p.add('output_linear.0.bias', [2 * d], { kind: 'uniform', bound }, { decay: false });
    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const k = kernel();
        const r = diagSsm({ x, ...k, skip: skip as tf.Tensor1D }, { initialState: ssmStateIn(opts.state), wantState: opts.wantState === true });
        // Porting note: nn.GELU is the exact erf form; layers/basic.ts has the tanh approximation (|Δ| < 1e-3).
        const z2 = dense(gelu(r.y), wOut, bOut); // [B,T,2d]; GLU over the channel axis: a ⊙ σ(b)
        const y = tf.mul(tf.slice(z2, [0, 0, 0], [B, T, d]), tf.sigmoid(tf.slice(z2, [0, 0, d], [B, T, d]))) as tf.Tensor3D;
        if (opts.wantState !== true) return { y };
        const state: MixerState = { h: r.finalState!.re };
        if (r.finalState!.im !== undefined) state['h_im'] = r.finalState!.im;
        return { y, state };
      },
    };
  },
});
