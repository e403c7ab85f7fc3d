// Mamba's selective scan (Gu & Dao 2023, Alg. 2) in its own inputs: Δ [B,T,E], A [E,N] and the
// per-token B_t, C_t [B,T,N] shared by the E channels, with Ā_t = exp(Δ_t A) and B̄_t = Δ_t B_t
// (the simplified Euler B̄ of mamba_ssm's selective_scan_ref):
//   h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t,   y_t = C_t · h_t + D x_t      per channel e, state [B,E,N]
// Forms: 'fused' (webgpu kernels, src/ops/selective_scan/webgpu.ts; nothing of size
// [B,T,E,N] is built; no initial or final state), else diagSsm with logA = Δ⊗A, b = Δ⊗B, c = C
// (its naive loop or the gla mapping, whichever diagSsm picks).
import * as tf from '@tensorflow/tfjs';
import { SCAN_BWD, SCAN_FWD, scanWorkgroup } from './webgpu.js';
import { diagSsm } from '../diag_ssm/index.js';
import { tidyResult } from '../diag_ssm/naive.js';
import type { DiagSsmResult, SsmOptions } from '../diag_ssm/types.js';

export interface SelectiveScanInputs {
  /** x [B,T,E] (after Mamba's conv and SiLU). */
  x: tf.Tensor3D;
  /** Δ_t [B,T,E], > 0 (after softplus). */
  delta: tf.Tensor3D;
  /** A [E,N], < 0 (−exp(A_log)). */
  A: tf.Tensor2D;
  /** B_t, C_t [B,T,N]. */
  b: tf.Tensor3D;
  c: tf.Tensor3D;
  /** D [E]. */
  skip?: tf.Tensor1D;
}

/** The fused kernels exist here (webgpu after initBackend) and take this shape. */
export function selectiveScanFusedAvailable(E: number, N: number): boolean {
  const be = tf.getBackend();
  return be !== undefined && tf.getKernel(SCAN_FWD, be) !== undefined && scanWorkgroup(E, N) !== undefined;
}

function fused(inp: SelectiveScanInputs): tf.Tensor3D {
  const [B, T, E] = inp.x.shape;
  const N = inp.A.shape[1];
  const wg = scanWorkgroup(E, N)!;
  const G = E / wg;
  const dims = { B, T, E, N, wg };
  const nY = B * T * E;
  const engine = tf.engine();
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, dt, A, b, c] = args as tf.Tensor[];
    const save = args[5] as tf.GradSaveFunc;
    // [y | checkpoints of h every SCAN_CHUNK steps], the latter for the backward pass
    const fwd = engine.runKernel(SCAN_FWD, { x: x!, dt: dt!, A: A!, b: b!, c: c! }, dims as never) as tf.Tensor1D;
    save([x!, dt!, A!, b!, c!, fwd]);
    return {
      value: fwd.slice(0, nY).reshape([B, T, E]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sdt, sA, sb, sc, sf] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const g = engine.runKernel(SCAN_BWD, { x: sx, dt: sdt, A: sA, b: sb, c: sc, fwd: sf, dy }, dims as never) as tf.Tensor1D;
        const offB = 2 * nY + B * E * N;
        const nBC = B * T * G * N;
        // partial sums per group of WG channels [B,T,N,G] → [B,T,N]
        const groups = (off: number): tf.Tensor => (G === 1 ? g.slice(off, nBC).reshape([B, T, N]) : tf.sum(g.slice(off, nBC).reshape([B, T, N, G]), 3));
        return [
          g.slice(0, nY).reshape([B, T, E]),
          g.slice(nY, nY).reshape([B, T, E]),
          tf.sum(g.slice(2 * nY, B * E * N).reshape([B, E, N]), 0),
          groups(offB),
          groups(offB + nBC),
        ];
      },
    };
  });
  return run(inp.x, inp.delta, inp.A, inp.b, inp.c) as tf.Tensor3D;
}

/**
 * @param opts initialState {re} [B,E,N], wantState (default true), form: 'fused' forces the
 *   kernels; any other form goes to diagSsm. Default: 'fused' where available with no state in
 *   or out (training, evaluation), else diagSsm's default.
 */
export function selectiveScan(inp: SelectiveScanInputs, opts: SsmOptions = {}): DiagSsmResult {
  const [B, T, E] = inp.x.shape;
  const N = inp.A.shape[1];
  const stateless = opts.initialState === undefined && opts.wantState === false;
  const canFuse = selectiveScanFusedAvailable(E, N);
  if (opts.form === 'fused') {
    if (!canFuse) throw new Error(`selectiveScan: form 'fused' needs the webgpu backend and E=${E} divisible by 4 (current: ${tf.getBackend()}); use 'chunk'`);
    if (!stateless) throw new Error("selectiveScan: form 'fused' takes no initial state and returns no final state (pass wantState: false); use 'chunk' for those");
  }
  if ((opts.form === 'fused' || (opts.form === undefined && T > 1)) && canFuse && stateless) {
    return tf.tidy(() => {
      const y = fused(inp);
      return { y: (inp.skip === undefined ? y : tf.add(y, tf.mul(inp.x, inp.skip))) as tf.Tensor3D };
    });
  }
  return tidyResult((): DiagSsmResult => {
    const delta = tf.reshape(inp.delta, [B, T, E, 1]);
    return diagSsm(
      {
        x: inp.x,
        logA: tf.mul(delta, tf.reshape(inp.A, [1, 1, E, N])) as tf.Tensor4D,
        b: tf.mul(delta, tf.reshape(inp.b, [B, T, 1, N])) as tf.Tensor4D,
        c: tf.reshape(inp.c, [B, T, 1, N]) as tf.Tensor4D,
        skip: inp.skip,
      },
      opts,
    );
  });
}
