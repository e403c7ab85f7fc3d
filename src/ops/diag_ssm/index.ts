// Public entry of the diagonal state-space recurrences (paper Tab. A2, the SSM rows):
//   diagSsm:  h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t,  y_t = Re(C_t · h_t) + D x_t   per channel, state [B, D, N]
//   diagScan: h_t = Ā_t ⊙ h_{t−1} + u_t, all h_t returned                    (S5), state [B, M]
// Ā_t = exp(logA_t + i·angleA_t) may be complex. Validates shapes and dispatches to the step loop
// (naive.ts) or the fast form (fast.ts: gla / hgrn).
import type * as tf from '@tensorflow/tfjs';
import { naiveUpTo } from '../common/validate.js';
import { diagScanHgrn, diagSsmGla } from './fast.js';
import { diagScanNaive, diagSsmNaive } from './naive.js';
import type { DiagScanInputs, DiagScanResult, DiagSsmInputs, DiagSsmResult, SsmOptions } from './types.js';

export type { DiagScanInputs, DiagScanResult, DiagSsmInputs, DiagSsmResult, SsmOptions, SsmState } from './types.js';
export { cdiv, cexp, cexpm1, cmul, cscale, discretize } from './complex.js';
export type { Cx, Discrete, Discretization } from './complex.js';
export { hippoSkewFrequencies, symmetricEigenvalues } from './hippo.js';
export { diagScanHgrn, diagScanNaive, diagSsmGla, diagSsmNaive };

function fail(op: string, name: string, layout: string, want: string, x: tf.Tensor): never {
  throw new Error(`${op}: ${name} must be ${layout} = [${want}], got [${x.shape.join(',')}]${x.dtype === 'float32' ? '' : ` (${x.dtype})`}`);
}

/** Check x against `want`, where an entry [n, true] also allows size 1 (broadcast). */
function check(op: string, name: string, x: tf.Tensor | undefined, want: [number, boolean][], layout: string): void {
  if (x === undefined) return;
  const ok = x.dtype === 'float32' && x.rank === want.length && want.every(([n, b], i) => x.shape[i] === n || (b && x.shape[i] === 1));
  if (!ok) fail(op, name, layout, want.map(([n, b]) => (b ? `${n}|1` : String(n))).join(','), x);
}

/**
 * The step loop when asked for, or by default for T ≤ 64 on cpu/wasm and T = 1 on webgpu (the
 * policy of the other ops, common/validate.ts `naiveUpTo`): measured on cpu at B=4, T=12, D=32,
 * N=64 complex, the loop (0.36 s fwd) beats gla's default (1.3 s) — the loop broadcasts the
 * time-invariant B̄, C where the gla mapping materialises [B,T,D,2N] operands.
 */
function useNaive(opts: SsmOptions<tf.Tensor>, t: number): boolean {
  return opts.form === 'naive' || (opts.form === undefined && t <= naiveUpTo());
}

/**
 * Diagonal SSM per channel (S4D, DSS, H3, Mamba's selective scan).
 * @param inp x [B,T,D]; logA, angleA?, b, bIm?, c, cIm? [B|1,T|1,D|1,N]; skip? [D]
 * @param opts initialState {re, im?} [B,D,N], form, chunkSize, wantState
 * @returns y [B,T,D] and the final state (im present for a complex SSM)
 */
export function diagSsm(inp: DiagSsmInputs, opts: SsmOptions = {}): DiagSsmResult {
  const op = 'diagSsm';
  const x = inp.x;
  if (x.rank !== 3 || x.dtype !== 'float32' || x.shape.some((s) => s === 0)) fail(op, 'x', '[B,T,D]', 'B,T,D', x);
  const [B, T, D] = x.shape;
  if (inp.logA.rank !== 4) fail(op, 'logA', '[B|1,T|1,D|1,N]', 'B|1,T|1,D|1,N', inp.logA);
  const N = inp.logA.shape[3];
  const four: [number, boolean][] = [
    [B, true],
    [T, true],
    [D, true],
    [N, false],
  ];
  const names = ['logA', 'angleA', 'b', 'bIm', 'c', 'cIm'] as const;
  for (const n of names) check(op, n, inp[n], four, '[B|1,T|1,D|1,N]');
  check(op, 'skip', inp.skip, [[D, false]], '[D]');
  check(op, 'initialState.re', opts.initialState?.re, [[B, false], [D, false], [N, false]], '[B,D,N]');
  check(op, 'initialState.im', opts.initialState?.im, [[B, false], [D, false], [N, false]], '[B,D,N]');
  const complex = inp.angleA !== undefined || inp.bIm !== undefined || inp.cIm !== undefined || opts.initialState?.im !== undefined;
  if (useNaive(opts, T)) return diagSsmNaive(inp, complex, opts.initialState, opts.wantState ?? true);
  return diagSsmGla(inp, complex, opts);
}

/**
 * Elementwise diagonal recurrence with its trajectory (S5's parallel scan).
 * @param inp u, uIm? [B,T,M]; logA, angleA? [B|1,T|1,M]
 * @param opts initialState {re, im?} [B,M], form, chunkSize, wantState
 * @returns h {re, im?} [B,T,M] (every step) and the final state [B,M]
 */
export function diagScan(inp: DiagScanInputs, opts: SsmOptions<tf.Tensor2D> = {}): DiagScanResult {
  const op = 'diagScan';
  const u = inp.u;
  if (u.rank !== 3 || u.dtype !== 'float32' || u.shape.some((s) => s === 0)) fail(op, 'u', '[B,T,M]', 'B,T,M', u);
  const [B, T, M] = u.shape;
  check(op, 'uIm', inp.uIm, [[B, false], [T, false], [M, false]], '[B,T,M]');
  for (const n of ['logA', 'angleA'] as const) check(op, n, inp[n], [[B, true], [T, true], [M, false]], '[B|1,T|1,M]');
  check(op, 'initialState.re', opts.initialState?.re, [[B, false], [M, false]], '[B,M]');
  check(op, 'initialState.im', opts.initialState?.im, [[B, false], [M, false]], '[B,M]');
  const complex = inp.angleA !== undefined || inp.uIm !== undefined || opts.initialState?.im !== undefined;
  if (useNaive(opts, T)) return diagScanNaive(inp, complex, opts.initialState, opts.wantState ?? true);
  return diagScanHgrn(inp, complex, opts);
}
