// Fast forms of the diagonal SSM recurrences, mapped onto the existing linear-attention ops:
//  - diagSsm ≡ gla with H = D heads, K = N, V = 1: q = C_t, k = B̄_t, v = x_t, g = log|Ā_t| (paper
//    Tab. A2: f_q = C, f_k = B̄, f_v = x, f_α = Ā), so its chunkwise form and gradients are gla's.
//  - diagScan ≡ hgrn (elementwise h_t = exp(g_t) ⊙ h_{t−1} + u_t) over the M states (S5: f_q = f_k = 1).
// Complex Ā_t = |Ā_t|·e^{iθ_t} (and a negative real Ā, θ = π) become real decays by rotating the
// state: with φ_t = Σ_{j≤t} θ_j, h'_t = e^{−iφ_t} h_t obeys h'_t = |Ā_t| h'_{t−1} + e^{−iφ_t} B̄_t x_t,
// and y_t = Re(C_t e^{iφ_t} h'_t) — RetNet's xPos trick. (re, im) of h' are 2N real channels with
// the same decay; q = [Re(C e^{iφ}), −Im(C e^{iφ})], k = [Re(e^{−iφ}B̄), Im(e^{−iφ}B̄)].
// φ counts from the start of the call (h'_0 = h_0), so a state carried between calls is the true h.
// Porting note: φ_t = t·θ grows with T; θ is first reduced to [−π, π], so φ's float32 rounding
// error is ≈ 6e-8·t·π rad (the step loop accumulates ≈ 6e-8·t rad by repeated products).
import * as tf from '@tensorflow/tfjs';
import { gla } from '../gated_recurrence/index.js';
import { hgrn } from '../hgrn/index.js';
import { prefixSum } from '../common/tensor.js';
import { tidyResult } from './naive.js';
import type { DiagScanInputs, DiagScanResult, DiagSsmInputs, DiagSsmResult, SsmOptions, SsmState } from './types.js';

/** 2π = C1 + C2 with C1 = 201/32 (8 significant bits): k·C1 is exact in float32 for |k| < 2¹⁶. */
const TWO_PI_HI = 6.28125;
const TWO_PI_LO = 2 * Math.PI - TWO_PI_HI;

/**
 * θ reduced to [−π, π] (Cody–Waite, two-part 2π), so that t·θ below carries an error of
 * ≈ 6e-8·t·π rad whatever |θ| is (DSS's HiPPO frequencies reach |θ| ≈ 500 rad per step). The
 * subtracted multiple of 2π is piecewise constant: dθ'/dθ = 1.
 */
function reduceAngle(theta: tf.Tensor): tf.Tensor {
  const k = tf.round(tf.div(theta, 2 * Math.PI));
  return tf.sub(tf.sub(theta, tf.mul(k, TWO_PI_HI)), tf.mul(k, TWO_PI_LO));
}

/** φ_t = Σ_{j≤t} θ_j along axis 1 of θ [b|1, T|1, ...] (θ reduced mod 2π); θ constant in time gives t·θ. */
function phase(thetaIn: tf.Tensor, t: number): tf.Tensor {
  const theta = reduceAngle(thetaIn);
  const shape = theta.shape;
  if (t === 1) return theta;
  if (shape[1] === 1) {
    const steps = tf.tensor1d(Float32Array.from({ length: t }, (_, i) => i + 1));
    return tf.mul(theta, tf.reshape(steps, [1, t, ...shape.slice(2).map(() => 1)]));
  }
  const rest = shape.slice(2).reduce((a, b) => a * b, 1);
  return tf.reshape(prefixSum(tf.reshape(theta, [shape[0]!, t, rest]) as tf.Tensor3D), shape);
}

/** e^{sign·iφ} · (re, im), elementwise. */
function rotate(z: { re: tf.Tensor; im?: tf.Tensor }, cos: tf.Tensor, sin: tf.Tensor, sign: 1 | -1): { re: tf.Tensor; im: tf.Tensor } {
  const s = sign === 1 ? sin : tf.neg(sin);
  if (z.im === undefined) return { re: tf.mul(z.re, cos), im: tf.mul(z.re, s) };
  return { re: tf.sub(tf.mul(z.re, cos), tf.mul(z.im, s)), im: tf.add(tf.mul(z.re, s), tf.mul(z.im, cos)) };
}

/** Last time step of φ [b|1, T, ...] without the time axis. */
function lastStep(phi: tf.Tensor): tf.Tensor {
  const t = phi.shape[1]!;
  return tf.squeeze(tf.slice(phi, phi.shape.map((_, i) => (i === 1 ? t - 1 : 0)), phi.shape.map((_, i) => (i === 1 ? 1 : -1))), [1]);
}

/** diagSsm through gla (see the header); state [B, D, N]. */
export function diagSsmGla(inp: DiagSsmInputs, complex: boolean, opts: SsmOptions): DiagSsmResult {
  return tidyResult((): DiagSsmResult => {
    const [B, T, D] = inp.x.shape;
    const N = inp.logA.shape[3];
    const full: [number, number, number, number] = [B, T, D, N];
    const bc = (z: tf.Tensor): tf.Tensor4D => tf.broadcastTo(z, full) as tf.Tensor4D;
    const v = tf.reshape(inp.x, [B, T, D, 1]) as tf.Tensor4D;
    const wantState = opts.wantState ?? true;
    const common = { scale: 1, form: opts.form === 'naive' ? undefined : opts.form, chunkSize: opts.chunkSize, wantState };
    let y: tf.Tensor3D;
    let finalState: SsmState | undefined;
    if (!complex) {
      const s0 = opts.initialState === undefined ? undefined : (tf.reshape(opts.initialState.re, [B, D, N, 1]) as tf.Tensor4D);
      const r = gla(bc(inp.c), bc(inp.b), v, bc(inp.logA), { ...common, initialState: s0 });
      y = tf.reshape(r.o, [B, T, D]);
      if (wantState) finalState = { re: tf.reshape(r.finalState!, [B, D, N]) };
    } else {
      const phi = inp.angleA === undefined ? undefined : phase(inp.angleA, T);
      const cos = phi === undefined ? tf.ones([1, 1, 1, 1]) : tf.cos(phi);
      const sin = phi === undefined ? tf.zeros([1, 1, 1, 1]) : tf.sin(phi);
      const u = rotate({ re: inp.c, im: inp.cIm }, cos, sin, 1); // C_t e^{iφ_t}
      const w = rotate({ re: inp.b, im: inp.bIm }, cos, sin, -1); // e^{−iφ_t} B̄_t
      const q = tf.concat([bc(u.re), bc(tf.neg(u.im))], -1) as tf.Tensor4D;
      const k = tf.concat([bc(w.re), bc(w.im)], -1) as tf.Tensor4D;
      const g = bc(inp.logA);
      const s0 =
        opts.initialState === undefined
          ? undefined
          : (tf.reshape(tf.concat([opts.initialState.re, opts.initialState.im ?? tf.zerosLike(opts.initialState.re)], -1), [B, D, 2 * N, 1]) as tf.Tensor4D);
      const r = gla(q, k, v, tf.concat([g, g], -1) as tf.Tensor4D, { ...common, initialState: s0 });
      y = tf.reshape(r.o, [B, T, D]);
      if (wantState) {
        const s = tf.reshape(r.finalState!, [B, D, 2 * N]);
        const rotated = { re: tf.slice(s, [0, 0, 0], [B, D, N]), im: tf.slice(s, [0, 0, N], [B, D, N]) };
        // h_T = e^{iφ_T} h'_T
        const h = phi === undefined ? rotated : rotate(rotated, tf.cos(lastStep(phi)), tf.sin(lastStep(phi)), 1);
        finalState = { re: h.re as tf.Tensor3D, im: h.im as tf.Tensor3D };
      }
    }
    if (inp.skip !== undefined) y = tf.add(y, tf.mul(inp.x, inp.skip));
    return finalState === undefined ? { y } : { y, finalState };
  });
}

/** diagScan through hgrn (see the header); state [B, M]. */
export function diagScanHgrn(inp: DiagScanInputs, complex: boolean, opts: SsmOptions<tf.Tensor2D>): DiagScanResult {
  return tidyResult((): DiagScanResult => {
    const [B, T, M] = inp.u.shape;
    const full: [number, number, number] = [B, T, M];
    const g = tf.broadcastTo(inp.logA, full) as tf.Tensor3D;
    const wantState = opts.wantState ?? true;
    const common = { form: opts.form === 'naive' ? undefined : opts.form, chunkSize: opts.chunkSize, wantState: false as const };
    if (!complex) {
      const h = hgrn(inp.u, g, { ...common, initialState: opts.initialState?.re }).o;
      const last = tf.reshape(tf.slice(h, [0, T - 1, 0], [B, 1, M]), [B, M]) as tf.Tensor2D;
      return wantState ? { h: { re: h }, finalState: { re: last } } : { h: { re: h } };
    }
    const phi = inp.angleA === undefined ? undefined : phase(inp.angleA, T);
    const cos = phi === undefined ? tf.ones([1, 1, 1]) : tf.cos(phi);
    const sin = phi === undefined ? tf.zeros([1, 1, 1]) : tf.sin(phi);
    const w = rotate({ re: inp.u, im: inp.uIm }, cos, sin, -1); // e^{−iφ_t} u_t
    const x2 = tf.concat([tf.broadcastTo(w.re, full), tf.broadcastTo(w.im, full)], -1) as tf.Tensor3D;
    const s0 =
      opts.initialState === undefined
        ? undefined
        : (tf.concat([opts.initialState.re, opts.initialState.im ?? tf.zerosLike(opts.initialState.re)], -1) as tf.Tensor2D);
    const hp = hgrn(x2, tf.concat([g, g], -1) as tf.Tensor3D, { ...common, initialState: s0 }).o; // [B, T, 2M]
    const h = rotate({ re: tf.slice(hp, [0, 0, 0], [B, T, M]), im: tf.slice(hp, [0, 0, M], [B, T, M]) }, cos, sin, 1);
    const traj = { re: tf.broadcastTo(h.re, full) as tf.Tensor3D, im: tf.broadcastTo(h.im, full) as tf.Tensor3D };
    if (!wantState) return { h: traj };
    const last = (z: tf.Tensor3D): tf.Tensor2D => tf.reshape(tf.slice(z, [0, T - 1, 0], [B, 1, M]), [B, M]) as tf.Tensor2D;
    return { h: traj, finalState: { re: last(traj.re), im: last(traj.im) } };
  });
}
