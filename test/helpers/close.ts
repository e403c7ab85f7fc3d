// expectClose: elementwise |got − want| ≤ atol + rtol·|want| with a message that names the tensor
// and reports the largest error. Default atol = rtol · max|want| (error relative to the tensor's
// scale, so entries near zero don't dominate).
import type * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

export interface CloseOptions {
  name: string;
  rtol?: number;
  atol?: number;
}

export interface CloseReport {
  /** max |got − want| */
  maxAbs: number;
  /** max |got − want| / max|want| */
  maxRel: number;
}

type Numbers = ArrayLike<number> | tf.Tensor;

function toArray(x: Numbers): ArrayLike<number> {
  return 'dataSync' in x ? x.dataSync() : x;
}

/** Compare two arrays/tensors of equal length; throws (via expect) with the tensor name and max error. */
export function expectClose(got: Numbers, want: Numbers, opts: CloseOptions): CloseReport {
  const g = toArray(got);
  const w = toArray(want);
  expect(g.length, `${opts.name}: length`).toBe(w.length);
  const rtol = opts.rtol ?? 1e-5;
  let scale = 0;
  for (let i = 0; i < w.length; i++) scale = Math.max(scale, Math.abs(w[i]!));
  const atol = opts.atol ?? rtol * scale;
  let maxAbs = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < w.length; i++) {
    const d = Math.abs(g[i]! - w[i]!);
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    const excess = Number.isNaN(d) ? Infinity : d - (atol + rtol * Math.abs(w[i]!));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  const maxRel = scale > 0 ? maxAbs / scale : maxAbs;
  const msg =
    worst < 0
      ? ''
      : `${opts.name}: max abs err ${maxAbs.toExponential(3)} (rel ${maxRel.toExponential(3)} of max|want| ${scale.toExponential(3)}); ` +
        `worst at [${worst}]: got ${g[worst]}, want ${w[worst]} (rtol ${rtol}, atol ${atol.toExponential(3)})`;
  expect(worst, msg).toBe(-1);
  return { maxAbs, maxRel };
}

/** max |a − b| / max |b| (b the reference; NaN anywhere gives NaN, which fails any bound). */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / scale;
}
