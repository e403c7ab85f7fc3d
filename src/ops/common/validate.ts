// Shape validation and option defaults shared by every op: one clear error naming the op, the
// tensor, the expected layout and what it got, before any tensor work starts.
import * as tf from '@tensorflow/tfjs';
import type { Form, RecurrenceOptions, ResolvedOptions, StatePass } from './types.js';
import { FORMS } from './types.js';

/**
 * Check that `x` has the given rank and, where `want[i]` is a number, that size on axis i.
 * `layout` is the human-readable layout, e.g. '[B,T,H,K]'.
 */
export function expectShape(op: string, name: string, x: tf.Tensor, want: readonly (number | undefined)[], layout: string): void {
  const ok = x.rank === want.length && want.every((w, i) => w === undefined || x.shape[i] === w);
  if (!ok) {
    const expected = want.map((w) => (w === undefined ? '?' : String(w))).join(',');
    throw new Error(`${op}: ${name} must be ${layout} = [${expected}], got [${x.shape.join(',')}]`);
  }
  if (x.dtype !== 'float32') throw new Error(`${op}: ${name} must be float32, got ${x.dtype}`);
}

/** Rank-`rank` shape as a tuple of numbers (throws if the rank differs). */
export function dims(op: string, name: string, x: tf.Tensor, rank: number, layout: string): number[] {
  if (x.rank !== rank) throw new Error(`${op}: ${name} must be ${layout} (rank ${rank}), got [${x.shape.join(',')}]`);
  if (x.shape.some((d) => d === 0)) throw new Error(`${op}: ${name} has an empty axis: [${x.shape.join(',')}]`);
  return x.shape;
}

/** Pick the form: explicit one, else `long` (default chunk) for T > 1 and the one-step recurrence for T = 1. */
export function resolveForm(op: string, form: Form | undefined, t: number, long: Form = 'chunk', naiveUpTo = 1): Form {
  if (form !== undefined && !FORMS.includes(form) && form !== 'fused') throw new Error(`${op}: unknown form '${String(form)}' (naive | parallel | chunk | fused)`);
  return form ?? (t > naiveUpTo ? long : 'naive');
}

/** The error for form 'fused' on an op that has no fused backend kernel. */
export function noFusedForm(op: string): Error {
  return new Error(`${op}: no 'fused' kernel for this op; use 'chunk', 'parallel' or 'naive'`);
}

/**
 * Longest T for which the step loop is the default on cpu/wasm: for gla at B=64, H=2, K=V=32 the
 * naive form took 182 ms fwd+bwd at T=64 against 282 ms for chunk-16 (wasm, measured), and they
 * tie near T=256. On webgpu every step is a kernel launch, so only T = 1 uses it.
 */
export function naiveUpTo(): number {
  return tf.getBackend() === 'webgpu' ? 1 : 64;
}

/**
 * Default chunk size and state pass per backend, from measurements (test/ops/bench.ts; src/ops/README.md):
 * on webgpu every kernel launch costs ~0.1–0.3 ms, so larger chunks and the log-depth 'scan'
 * between chunks win; on cpu/wasm flops dominate, so smaller chunks and the plain 'loop' win.
 * Only speed depends on this choice, not the results (beyond float rounding).
 */
export interface ChunkDefaults {
  gpu: { chunkSize: number; statePass: StatePass };
  cpu: { chunkSize: number; statePass: StatePass };
}

/** Fill in defaults (scale K^-0.5, wantState true, backend-dependent chunking) and check them. */
export function resolveOptions<S extends tf.Tensor>(
  op: string,
  opts: Pick<RecurrenceOptions, 'scale' | 'chunkSize' | 'wantState' | 'statePass'> & { initialState?: S },
  keyDim: number,
  defaults: ChunkDefaults,
): ResolvedOptions<S> {
  const d = tf.getBackend() === 'webgpu' ? defaults.gpu : defaults.cpu;
  const chunkSize = opts.chunkSize ?? d.chunkSize;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`${op}: chunkSize must be a positive integer, got ${chunkSize}`);
  const scale = opts.scale ?? keyDim ** -0.5;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  const statePass = opts.statePass ?? d.statePass;
  if (statePass !== 'loop' && statePass !== 'scan') throw new Error(`${op}: statePass must be 'loop' or 'scan', got '${String(statePass)}'`);
  return { scale, initialState: opts.initialState, chunkSize, wantState: opts.wantState ?? true, statePass };
}
