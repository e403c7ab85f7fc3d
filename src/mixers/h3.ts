// H3 (Fu et al. 2023, "Hungry Hungry Hippos"; paper-metala.md §1.3 Tab. A2 rows "DSS, S4D, H3"):
// y = W_O( q ⊙ SSM_diag( SSM_shift(k) ⊙ v ) ), following HazyResearch/H3 `src/models/ssm/h3.py`.
// The shift SSM (A = shift matrix, learnable B = e₁ init and C) is a causal depthwise conv of
// N taps K_j = Σ_{n≥j} C_n B_{n−j}; the diagonal SSM is S4D (SSKernelDiag, `diag-lin`, bilinear
// by default as upstream). With head_dim P > 1, kv is the per-head outer product k vᵀ (P² SSM
// channels per head sharing that head's SSM) and q contracts the first index, as upstream.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense } from '../layers/basic.js';
import { diagSsm } from '../ops/diag_ssm/index.js';
import { MetalaError } from '../util/errors.js';
import { checkS4dKernel, s4dKernel, s4dKernelParamCount, s4dStatePerChannel, ssmStateIn } from './s4d.js';
import { defineMixer, type MixerState } from './types.js';

const options = z
  .object({
    /** N: shift-SSM taps and diagonal-SSM state floats per channel (h3.py `d_state` 64). */
    d_state: z.number().int().positive().default(64),
    /** P: d_model / heads (h3.py `head_dim`, default 1). */
    head_dim: z.number().int().positive().default(1),
    /** Diagonal SSM init: S4D-Lin (upstream `measure='diag-lin'`) or S4D-Real. */
    init: z.enum(['lin', 'real']).default('lin'),
    /** SSKernelDiag's default (what H3 runs with) is bilinear. */
    discretization: z.enum(['zoh', 'bilinear']).default('bilinear'),
    dt_min: z.number().positive().default(1e-3),
    dt_max: z.number().positive().default(1e-1),
    /** N(0, σ) for the q/k/v/output projections (H3's GPT-style `_init_weights`, biases 0). */
    init_std: z.number().positive().default(0.02),
  })
  .strict();

export const h3 = defineMixer({
  name: 'h3',
  family: 'ssm',
  cite: 'Fu et al. 2023, H3 (ICLR); HazyResearch/H3 src/models/ssm/h3.py, ss_kernel_shift.py, ss_kernel_diag.py',
  form: {
    f_q: 'C (and xW_Q outside the SSM)',
    f_k: 'ZOH: (ΔA)⁻¹(exp(ΔA) − I)ΔB | bilinear: (I − Δ/2·A)⁻¹ΔB',
    f_v: 'SSM_shift(xW_K) ⊙ xW_V',
    f_alpha: 'exp(ΔA) | (I − Δ/2·A)⁻¹(I + Δ/2·A)',
    f_g: '1',
  },
  properties: { C0: true, C1: false, C2: false, C3: false },
  options,
  // shift cache (N−1 inputs per channel) + diagonal state: d·P channels × N floats
  stateSize: (o, d) => (o.d_state - 1) * d + d * o.head_dim * s4dStatePerChannel(o),
  // q, k, v, output (4d² + 4d), shift B, C (2dN), ssm_k_D (d), diagonal kernel over H = d/P, D (H)
  paramCount: (o, d) => {
    const H = d / o.head_dim;
    return 4 * d * d + 4 * d + 2 * d * o.d_state + d + s4dKernelParamCount(H, o) + H;
  },
  create: (o, ctx) => {
    checkS4dKernel('h3', o);
    const d = ctx.dModel;
    const P = o.head_dim;
    const N = o.d_state;
    if (d % P !== 0) throw new MetalaError(`model.mixer: h3: d_model ${d} is not a multiple of head_dim ${P}. Pick a head_dim that divides d_model`);
    const H = d / P;
    const p = ctx.params;
    const init = { kind: 'normal', std: o.init_std } as const;
    const q = p.linear('q_proj', d, d, init, true);
    const k = p.linear('k_proj', d, d, init, true);
    const v = p.linear('v_proj', d, d, init, true);
    // Shift SSM: B = e₁ (learnable, no weight decay), C ~ kaiming_uniform(a=√5) = U(±1/√N).
    const shiftB = p.add('ssm_k_kernel.kernel.B', [d, N], { kind: 'custom', values: (n) => Float32Array.from({ length: n }, (_, i) => (i % N === 0 ? 1 : 0)) }, { decay: false });
    const shiftC = p.add('ssm_k_kernel.kernel.C', [d, N], { kind: 'uniform', bound: 1 / Math.sqrt(N) }, { fileShape: [1, d, N] });
    const shiftD = p.add('ssm_k_D', [d], { kind: 'normal', std: 1 });
    const kernel = s4dKernel(p.scope('kernel.kernel'), H, o);
    const skip = p.add('D', [H], { kind: 'normal', std: 1 });
    const out = p.linear('output_linear', d, d, init, true);
    // idx[j, m] = m + j into C padded to 2N: K_j = Σ_m C_{m+j} B_m.
    const idx = Int32Array.from({ length: N * N }, (_, i) => (i % N) + Math.floor(i / N));
    /** Shift-SSM kernel [N, d], row j = lag j. */
    const shiftKernel = (): tf.Tensor2D => {
      const cPad = tf.concat([shiftC, tf.zeros([d, N])], 1);
      const cj = tf.reshape(tf.gather(cPad, tf.tensor1d(idx, 'int32'), 1), [d, N, N]);
      return tf.transpose(tf.sum(tf.mul(cj, tf.reshape(shiftB, [d, 1, N])), 2)) as tf.Tensor2D;
    };
    /**
     * y_t = Σ_{j<N} K_j ⊙ k_{t−j} over [cache (N−1 past k's) ‖ k]; returns the new cache. Without a
     * cache, lags j ≥ T only meet the zero padding and are skipped (T = 12 ⇒ 12 of 64 taps).
     */
    const shiftConv = (kx: tf.Tensor3D, cache: tf.Tensor3D | undefined): { y: tf.Tensor; cache: tf.Tensor3D } => {
      const [B, T] = kx.shape;
      const K = shiftKernel();
      const xp = N === 1 ? kx : tf.concat([cache ?? tf.zeros([B, N - 1, d]), kx], 1); // [B, N−1+T, d]
      let y: tf.Tensor | undefined;
      for (let j = 0; j < (cache === undefined ? Math.min(N, T) : N); j++) {
        const tap = tf.mul(tf.slice(xp, [0, N - 1 - j, 0], [B, T, d]), tf.slice(K, [j, 0], [1, d]));
        y = y === undefined ? tap : tf.add(y, tap);
      }
      return { y: y!, cache: tf.slice(xp, [0, T, 0], [B, N - 1, d]) as tf.Tensor3D };
    };
    /** [1,1,H,M] → [1,1,H·P²,M]: every one of a head's P² channels uses that head's SSM. */
    const tile = (z: tf.Tensor4D | undefined): tf.Tensor4D | undefined => {
      if (z === undefined || P === 1) return z;
      const M = z.shape[3];
      return tf.reshape(tf.tile(tf.reshape(z, [1, 1, H, 1, M]), [1, 1, 1, P * P, 1]), [1, 1, H * P * P, M]) as tf.Tensor4D;
    };
    return {
      forward(x, opts = {}) {
        const [B, T] = x.shape;
        const qx = dense(x, q.w, q.b);
        const kx = dense(x, k.w, k.b) as tf.Tensor3D;
        const vx = dense(x, v.w, v.b);
        // k ← SSM_shift(k) + ssm_k_D ⊙ k; the conv cache (last N−1 k's) replaces the shift register.
        const sh = shiftConv(kx, opts.state?.['shift'] as tf.Tensor3D | undefined);
        const ks = tf.add(sh.y, tf.mul(kx, shiftD));
        // kv[b,t,h,i,j] = k[h,i]·v[h,j]  (model index = h·P + i), flattened to H·P² SSM channels.
        const kv = tf.reshape(tf.mul(tf.reshape(ks, [B, T, H, P, 1]), tf.reshape(vx, [B, T, H, 1, P])), [B, T, H * P * P]) as tf.Tensor3D;
        const kern = kernel();
        const skipAll = (P === 1 ? skip : tf.reshape(tf.tile(tf.reshape(skip, [H, 1]), [1, P * P]), [H * P * P])) as tf.Tensor1D;
        const r = diagSsm(
          { x: kv, logA: tile(kern.logA)!, angleA: tile(kern.angleA), b: tile(kern.b)!, bIm: tile(kern.bIm), c: tile(kern.c)!, cIm: tile(kern.cIm), skip: skipAll },
          { initialState: ssmStateIn(opts.state), wantState: opts.wantState === true },
        );
        // y_j = Σ_i q[h,i] · ssm[h,i,j]; upstream then flattens (j, h): model index j·H + h.
        const yq = tf.sum(tf.mul(tf.reshape(r.y, [B, T, H, P, P]), tf.reshape(qx, [B, T, H, P, 1])), 3); // [B,T,H,P]
        const merged = P === 1 ? tf.reshape(yq, [B, T, d]) : tf.reshape(tf.transpose(yq, [0, 1, 3, 2]), [B, T, d]);
        const y = dense(merged, out.w, out.b) as tf.Tensor3D;
        if (opts.wantState !== true) return { y };
        const state: MixerState = { shift: sh.cache, h: r.finalState!.re };
        if (r.finalState!.im !== undefined) state['h_im'] = r.finalState!.im;
        return { y, state };
      },
    };
  },
});
