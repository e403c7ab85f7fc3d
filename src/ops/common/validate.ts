// Shape validation and option defaults shared by every op: one clear error naming the op, the
// tensor, the expected layout and what it got, before any tensor work starts.
import type * as tf from '@tensorflow/tfjs';
import type { Form, RecurrenceOptions, ResolvedOptions } from './types.js';
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
export function resolveForm(op: string, form: Form | undefined, t: number, long: Form = 'chunk'): Form {
  if (form !== undefined && !FORMS.includes(form)) throw new Error(`${op}: unknown form '${String(form)}' (naive | parallel | chunk)`);
  return form ?? (t > 1 ? long : 'naive');
}

/** Fill in defaults (scale K^-0.5, wantState true) and check chunkSize. */
export function resolveOptions<S extends tf.Tensor>(
  op: string,
  opts: Pick<RecurrenceOptions, 'scale' | 'chunkSize' | 'wantState' | 'statePass'> & { initialState?: S },
  keyDim: number,
  defaultChunk: number,
): ResolvedOptions<S> {
  const chunkSize = opts.chunkSize ?? defaultChunk;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`${op}: chunkSize must be a positive integer, got ${chunkSize}`);
  const scale = opts.scale ?? keyDim ** -0.5;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  const statePass = opts.statePass ?? 'loop';
  if (statePass !== 'loop' && statePass !== 'scan') throw new Error(`${op}: statePass must be 'loop' or 'scan', got '${String(statePass)}'`);
  return { scale, initialState: opts.initialState, chunkSize, wantState: opts.wantState ?? true, statePass };
}
