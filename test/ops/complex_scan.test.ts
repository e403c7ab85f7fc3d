// complexScan (LRU's complex diagonal recurrence as (re, im) channels, [B,T,N], state [B,2,N]):
// naive against a float64 complex loop; parallel (log-depth scan) against naive on outputs, final
// state and gradients (T ∈ {1,7,63,100}, with an initial state, |λ| up to 0.9995, phases up to
// 4π); causality; no leaks.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { complexScan } from '../../src/ops/complex_scan/index.js';
import { expectClose } from '../helpers/close.js';
import { Rng, evaluate } from './harness.js';

const [B, N] = [2, 10];

beforeAll(async () => {
  await initBackend('cpu');
});

/** log|λ| = −e^{U(lo, hi)} (|λ| from e^{−e^{hi}} to e^{−e^{lo}}), phase U(0, maxPhase). */
function makeInputs(rng: Rng, t: number, lo: number, hi: number, maxPhase: number): Record<string, tf.Tensor> {
  return {
    xRe: rng.randn([B, t, N]),
    xIm: rng.randn([B, t, N]),
    logMag: tf.neg(tf.exp(rng.uniformTensor([B, t, N], lo, hi))),
    phase: rng.uniformTensor([B, t, N], 0, maxPhase),
    initialState: rng.randn([B, 2, N]),
  };
}

type Form = 'naive' | 'parallel' | undefined;

/** The op with (re, im) concatenated on the last axis so the shared harness sees one output. */
function call(x: Record<string, tf.Tensor>, form: Form, wantState = true): { o: tf.Tensor; finalState?: tf.Tensor } {
  const r = complexScan(x['xRe'] as tf.Tensor3D, x['xIm'] as tf.Tensor3D, x['logMag'] as tf.Tensor3D, x['phase'] as tf.Tensor3D, {
    form,
    wantState,
    initialState: x['initialState'] as tf.Tensor3D | undefined,
  });
  return { o: tf.concat([r.re, r.im], 2), finalState: r.finalState };
}

/** float64 loop over t with explicit complex products; returns [re | im] per step like `call`. */
function reference(x: Record<string, tf.Tensor>, t: number): Float64Array {
  const [xr, xi, lm, ph, s0] = ['xRe', 'xIm', 'logMag', 'phase', 'initialState'].map((n) => x[n]!.dataSync());
  const out = new Float64Array(B * t * 2 * N);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      let [hr, hi] = [s0![(b * 2) * N + n]!, s0![(b * 2 + 1) * N + n]!];
      for (let s = 0; s < t; s++) {
        const i = (b * t + s) * N + n;
        const [lr, li] = [Math.exp(lm![i]!) * Math.cos(ph![i]!), Math.exp(lm![i]!) * Math.sin(ph![i]!)];
        [hr, hi] = [lr * hr - li * hi + xr![i]!, li * hr + lr * hi + xi![i]!];
        out[(b * t + s) * 2 * N + n] = hr;
        out[(b * t + s) * 2 * N + N + n] = hi;
      }
    }
  }
  return out;
}

describe('complexScan', () => {
  it('naive and parallel match a float64 complex loop (T=40, |λ| near 1, with initial state)', () => {
    const x = makeInputs(new Rng(3), 40, -7.6, -1, 2 * Math.PI);
    const ref = reference(x, 40);
    for (const form of ['naive', 'parallel'] as const) {
      const r = call(x, form);
      expectClose(r.o.dataSync(), ref, { name: `${form} h`, rtol: 1e-5 });
      tf.dispose([r.o, r.finalState!]);
    }
    tf.dispose(Object.values(x));
  });

  for (const t of [1, 7, 63, 100]) {
    for (const [label, lo, hi] of [['|λ| ∈ [0.9995, 0.37]', -7.6, 0], ['strong decay |λ| ≈ e^{−e^{2}}', 1, 2]] as const) {
      it(`parallel = naive on outputs, state and gradients (T=${t}, ${label})`, () => {
        const x = makeInputs(new Rng(10 * t + lo), t, lo, hi, 4 * Math.PI);
        const ref = evaluate((y) => call(y, 'naive'), x);
        for (const form of ['parallel', undefined] as const) {
          const got = evaluate((y) => call(y, form), x);
          const name = form ?? 'default';
          expectClose(got.o, ref.o, { name: `${name} h`, rtol: 1e-5 });
          expectClose(got.finalState, ref.finalState, { name: `${name} finalState`, rtol: 1e-5 });
          for (const n of Object.keys(ref.grads)) expectClose(got.grads[n]!, ref.grads[n]!, { name: `${name} d${n}`, rtol: 1e-4 });
        }
        tf.dispose(Object.values(x));
      });
    }
  }

  it('is causal and leaks no tensors', () => {
    const [t, t0] = [24, 9];
    const a = makeInputs(new Rng(8), t, -3, 0, 2 * Math.PI);
    const later = (x: tf.Tensor): tf.Tensor => tf.tidy(() => tf.concat([tf.slice(x, [0, 0, 0], [B, t0 + 1, N]), tf.mul(tf.slice(x, [0, t0 + 1, 0], [B, t - t0 - 1, N]), 1.5)], 1));
    const b = { ...a, xRe: later(a['xRe']!), phase: later(a['phase']!) };
    for (const form of ['naive', 'parallel'] as const) {
      const before = tf.memory().numTensors;
      const [oa, ob] = [a, b].map((x) => tf.tidy(() => call(x, form).o.dataSync()));
      const head = (arr: ArrayLike<number>): number[] => Array.from(arr).filter((_, i) => Math.floor(i / (2 * N)) % t <= t0);
      expectClose(head(ob!), head(oa!), { name: `${form} h[:, :t0+1]`, rtol: 0, atol: 1e-6 });
      expect(Array.from(oa!).some((v, i) => v !== ob![i])).toBe(true);
      tf.tidy(() => {
        expect(call(a, form, false).finalState).toBeUndefined();
      });
      evaluate((y) => call(y, form), a);
      expect(tf.memory().numTensors, `${form} leaked tensors`).toBe(before);
    }
    tf.dispose([...Object.values(a), b.xRe, b.phase]);
  });
});
