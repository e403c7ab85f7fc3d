// Step-by-step references of the diagonal SSM recurrences, written from the state equation
// (paper Tab. A2; Mamba's `selective_scan_ref`, S4's `SSKernelDiag.step`, S5's `binary_operator`):
//   h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t,   y_t = Re(C_t · h_t) + D x_t,   Ā_t = exp(logA_t + i·angleA_t).
// Complex products are spelled out on (re, im) pairs. The oracle for the fast forms (fast.ts).
import * as tf from '@tensorflow/tfjs';
import { stackSafe, unstackSafe } from '../common/tensor.js';
import type { DiagScanInputs, DiagScanResult, DiagSsmInputs, DiagSsmResult, SsmState } from './types.js';

/** tf.tidy for the result objects here (nested {re, im} states are kept; optional fields confuse tidy's typing). */
export function tidyResult<R extends object>(fn: () => R): R {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as R;
}

/** Per-step slices of a tensor with time on axis 1 (size T, or 1 = the same at every step). */
function stepper(x: tf.Tensor | undefined, t: number): (i: number) => tf.Tensor | undefined {
  if (x === undefined) return () => undefined;
  if (x.shape[1] === 1 || t === 1) {
    const one = tf.squeeze(x, [1]);
    return () => one;
  }
  const parts = unstackSafe(x, 1);
  return (i) => parts[i];
}

/** One complex (or real) step h ← a·h + w, with a = exp(logA)·e^{i·angle}. */
function step(h: SsmState<tf.Tensor>, logA: tf.Tensor, angle: tf.Tensor | undefined, w: { re: tf.Tensor; im?: tf.Tensor }): SsmState<tf.Tensor> {
  const mag = tf.exp(logA);
  if (h.im === undefined) return { re: tf.add(tf.mul(mag, h.re), w.re) };
  const ar = angle === undefined ? mag : tf.mul(mag, tf.cos(angle));
  const ai = angle === undefined ? undefined : tf.mul(mag, tf.sin(angle));
  let re = tf.add(tf.mul(ar, h.re), w.re);
  let im = tf.mul(ar, h.im);
  if (ai !== undefined) {
    re = tf.sub(re, tf.mul(ai, h.im));
    im = tf.add(im, tf.mul(ai, h.re));
  }
  if (w.im !== undefined) im = tf.add(im, w.im);
  return { re, im };
}

/** diagSsm, one loop over t; state [B, D, N]. */
export function diagSsmNaive(inp: DiagSsmInputs, complex: boolean, init: SsmState | undefined, wantState: boolean): DiagSsmResult {
  return tidyResult((): DiagSsmResult => {
    const [B, T, D] = inp.x.shape;
    const N = inp.logA.shape[3];
    const xs = stepper(inp.x, T);
    const [la, an, br, bi, cr, ci] = [inp.logA, inp.angleA, inp.b, inp.bIm, inp.c, inp.cIm].map((z) => stepper(z, T));
    let h: SsmState<tf.Tensor> = {
      re: init?.re ?? tf.zeros([B, D, N]),
      im: complex ? (init?.im ?? tf.zeros([B, D, N])) : undefined,
    };
    const ys: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const xt = tf.reshape(xs(t)!, [B, D, 1]);
      // B̄_t x_t
      const bIm = bi!(t);
      h = step(h, la!(t)!, an!(t), { re: tf.mul(br!(t)!, xt), im: bIm === undefined ? undefined : tf.mul(bIm, xt) });
      // Re(C_t h_t) = Σ_n (C_re h_re − C_im h_im)
      let prod = tf.mul(cr!(t)!, h.re);
      const cIm = ci!(t);
      if (cIm !== undefined && h.im !== undefined) prod = tf.sub(prod, tf.mul(cIm, h.im));
      ys.push(tf.sum(prod, -1)); // [B, D]
    }
    let y = stackSafe(ys, 1) as tf.Tensor3D;
    if (inp.skip !== undefined) y = tf.add(y, tf.mul(inp.x, inp.skip));
    if (!wantState) return { y };
    const finalState: SsmState = { re: h.re as tf.Tensor3D };
    if (h.im !== undefined) finalState.im = h.im as tf.Tensor3D;
    return { y, finalState };
  });
}

/** diagScan, one loop over t; state [B, M]. */
export function diagScanNaive(inp: DiagScanInputs, complex: boolean, init: SsmState<tf.Tensor2D> | undefined, wantState: boolean): DiagScanResult {
  return tidyResult((): DiagScanResult => {
    const [B, T, M] = inp.u.shape;
    const [ur, ui, la, an] = [inp.u, inp.uIm, inp.logA, inp.angleA].map((z) => stepper(z, T));
    let h: SsmState<tf.Tensor> = { re: init?.re ?? tf.zeros([B, M]), im: complex ? (init?.im ?? tf.zeros([B, M])) : undefined };
    const hr: tf.Tensor[] = [];
    const hi: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      h = step(h, la!(t)!, an!(t), { re: ur!(t)!, im: ui!(t) });
      hr.push(h.re);
      if (h.im !== undefined) hi.push(h.im);
    }
    const traj: SsmState = { re: stackSafe(hr, 1) as tf.Tensor3D };
    if (complex) traj.im = stackSafe(hi, 1) as tf.Tensor3D;
    if (!wantState) return { h: traj };
    const finalState: SsmState<tf.Tensor2D> = { re: h.re as tf.Tensor2D };
    if (h.im !== undefined) finalState.im = h.im as tf.Tensor2D;
    return { h: traj, finalState };
  });
}
