// rwkv4 (RWKV-4 WKV, [B,T,D], state (a, b, p) [B,3,D]): naive against a direct float64 evaluation
// of the formula; chunk and parallel against naive on outputs, final state and gradients
// (T ∈ {1,7,63,100}, chunk sizes that don't divide T, with an initial state, keys up to ±200);
// causality; no leaks.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { rwkv4 } from '../../src/ops/rwkv4/index.js';
import { expectClose } from '../helpers/close.js';
import { Rng, evaluate } from './harness.js';

const [B, D] = [2, 12];

beforeAll(async () => {
  await initBackend('cpu');
});

interface Inputs {
  k: tf.Tensor;
  v: tf.Tensor;
  w: tf.Tensor;
  u: tf.Tensor;
  initialState?: tf.Tensor;
}

/** k ~ N(0, kStd²) plus a few spikes of ±spike; w = e^{U(−5, 2)} (RWKV-4's time_decay range). */
function makeInputs(rng: Rng, t: number, kStd: number, spike: number, withState: boolean): Inputs {
  const k = Float32Array.from({ length: B * t * D }, () => kStd * rng.normal() + (rng.uniform() < 0.05 ? (rng.uniform() < 0.5 ? -spike : spike) : 0));
  const x: Inputs = {
    k: tf.tensor3d(k, [B, t, D]),
    v: rng.randn([B, t, D]),
    w: tf.exp(rng.uniformTensor([D], -5, 2)),
    u: rng.randn([D]),
  };
  if (withState) {
    const s = Float32Array.from({ length: B * 3 * D }, (_, i) => {
      const part = Math.floor(i / D) % 3;
      return part === 0 ? rng.normal() : part === 1 ? Math.exp(rng.normal()) : 3 * rng.normal();
    });
    x.initialState = tf.tensor3d(s, [B, 3, D]);
  }
  return x;
}

type FormCall = { form?: 'naive' | 'parallel' | 'chunk'; chunkSize?: number; wantState?: boolean };

function call(x: Record<string, tf.Tensor>, o: FormCall): { o: tf.Tensor; finalState?: tf.Tensor } {
  return rwkv4(x['k'] as tf.Tensor3D, x['v'] as tf.Tensor3D, x['w'] as tf.Tensor1D, x['u'] as tf.Tensor1D, {
    ...o,
    initialState: x['initialState'] as tf.Tensor3D | undefined,
  });
}

/** The WKV formula in float64, per (b, d): log-sum-exp over the explicit terms (no recurrence). */
function reference(x: Inputs, t: number): { o: Float64Array; state: Float64Array } {
  const k = x.k.dataSync();
  const v = x.v.dataSync();
  const w = x.w.dataSync();
  const u = x.u.dataSync();
  const s0 = x.initialState?.dataSync();
  const o = new Float64Array(B * t * D);
  const state = new Float64Array(B * 3 * D);
  // Terms (exponent, numerator weight, denominator weight), shifted by the largest exponent.
  const lse = (terms: [number, number, number][]): [number, number, number] => {
    const p = Math.max(...terms.map(([e]) => e));
    let num = 0;
    let den = 0;
    for (const [e, a, b] of terms) {
      num += Math.exp(e - p) * a;
      den += Math.exp(e - p) * b;
    }
    return [num, den, p];
  };
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) {
      const at = (s: number): number => (b * t + s) * D + d;
      // The initial state is one more term, e^{p0 − steps·w} (a0, b0).
      const init = (steps: number): [number, number, number][] =>
        s0 === undefined ? [] : [[s0[(b * 3 + 2) * D + d]! - steps * w[d]!, s0[b * 3 * D + d]!, s0[(b * 3 + 1) * D + d]!]];
      for (let tt = 0; tt < t; tt++) {
        const terms = init(tt);
        for (let s = 0; s < tt; s++) terms.push([-(tt - 1 - s) * w[d]! + k[at(s)]!, v[at(s)]!, 1]);
        terms.push([u[d]! + k[at(tt)]!, v[at(tt)]!, 1]);
        const [num, den] = lse(terms);
        o[at(tt)] = num / den;
      }
      const terms = init(t);
      for (let s = 0; s < t; s++) terms.push([-(t - 1 - s) * w[d]! + k[at(s)]!, v[at(s)]!, 1]);
      const [num, den, p] = lse(terms);
      state[b * 3 * D + d] = num;
      state[(b * 3 + 1) * D + d] = den;
      state[(b * 3 + 2) * D + d] = p;
    }
  }
  return { o, state };
}

describe('rwkv4', () => {
  for (const t of [1, 7, 63]) {
    it(`naive and chunk match the float64 formula (T=${t}, keys up to ±200, with initial state)`, () => {
      const x = makeInputs(new Rng(t), t, 20, 200, true);
      const ref = reference(x, t);
      for (const form of ['naive', 'chunk'] as const) {
        const r = call(x as unknown as Record<string, tf.Tensor>, { form, chunkSize: 5 });
        expectClose(r.o.dataSync(), ref.o, { name: `${form} o`, rtol: 1e-5 });
        // (a, b) relative to their scale, p absolutely: p's of several hundred carry float32 rounding.
        const s = r.finalState!.dataSync();
        const part = (arr: ArrayLike<number>, i: number): number[] => Array.from({ length: B * D }, (_, j) => arr[(Math.floor(j / D) * 3 + i) * D + (j % D)]!);
        expectClose(part(s, 0), part(ref.state, 0), { name: `${form} a`, rtol: 1e-4 });
        expectClose(part(s, 1), part(ref.state, 1), { name: `${form} b`, rtol: 1e-4 });
        expectClose(part(s, 2), part(ref.state, 2), { name: `${form} p`, rtol: 0, atol: 1e-3 });
        tf.dispose([r.o, r.finalState!]);
      }
      tf.dispose(Object.values(x));
    });
  }

  describe('chunk and parallel agree with naive (outputs, final state, gradients)', () => {
    for (const t of [1, 7, 63, 100]) {
      for (const [kStd, spike] of [[1, 0], [20, 150]] as const) {
        it(`T=${t}, k ~ N(0, ${kStd}²)${spike > 0 ? ` with ±${spike} spikes` : ''}`, () => {
          const x = makeInputs(new Rng(100 * t + kStd), t, kStd, spike, true) as unknown as Record<string, tf.Tensor>;
          const ref = evaluate((y) => call(y, { form: 'naive' }), x);
          const all = [ref.o, ref.finalState, ...Object.values(ref.grads)];
          expect(all.every((a) => a.every(Number.isFinite)), 'naive: non-finite values').toBe(true);
          const runs: FormCall[] = [{ form: 'parallel' }, ...[16, 5, 4].map((chunkSize) => ({ form: 'chunk' as const, chunkSize })), {}];
          for (const run of runs) {
            const got = evaluate((y) => call(y, run), x);
            const label = `${run.form ?? 'default'}${run.chunkSize === undefined ? '' : `(C=${run.chunkSize})`}`;
            expectClose(got.o, ref.o, { name: `${label} o`, rtol: 1e-5 });
            expectClose(got.finalState, ref.finalState, { name: `${label} finalState`, rtol: 1e-5 });
            for (const n of Object.keys(ref.grads)) expectClose(got.grads[n]!, ref.grads[n]!, { name: `${label} d${n}`, rtol: 1e-4 });
          }
          tf.dispose(Object.values(x));
        });
      }
    }
  });

  it('is causal: changing k, v after t0 leaves o[:, :t0+1] unchanged (every form)', () => {
    const [t, t0] = [30, 12];
    const a = makeInputs(new Rng(5), t, 3, 0, true);
    const later = (x: tf.Tensor, by: number): tf.Tensor =>
      tf.tidy(() => tf.concat([tf.slice(x, [0, 0, 0], [B, t0 + 1, D]), tf.add(tf.slice(x, [0, t0 + 1, 0], [B, t - t0 - 1, D]), by)], 1));
    const b = { ...a, k: later(a.k, 2), v: later(a.v, -1) };
    for (const form of ['naive', 'parallel', 'chunk'] as const) {
      const [oa, ob] = [a, b].map((x) => tf.tidy(() => call(x as unknown as Record<string, tf.Tensor>, { form, chunkSize: 8 }).o.dataSync()));
      const head = (arr: ArrayLike<number>): number[] => Array.from(arr).filter((_, i) => Math.floor(i / D) % t <= t0);
      expectClose(head(ob!), head(oa!), { name: `${form} o[:, :t0+1]`, rtol: 0, atol: 1e-6 });
      expect(Array.from(oa!).some((val, i) => val !== ob![i]), `${form}: the change reached later outputs`).toBe(true);
    }
    tf.dispose([...Object.values(a), b.k, b.v]);
  });

  it('leaks no tensors (forward, wantState false, gradients)', () => {
    const x = makeInputs(new Rng(11), 21, 4, 0, true) as unknown as Record<string, tf.Tensor>;
    for (const form of ['naive', 'parallel', 'chunk'] as const) {
      const before = tf.memory().numTensors;
      const r = call(x, { form, chunkSize: 8 });
      expect(r.finalState?.shape).toEqual([B, 3, D]);
      tf.dispose([r.o, r.finalState!]);
      const r2 = call(x, { form, chunkSize: 8, wantState: false });
      expect(r2.finalState).toBeUndefined();
      r2.o.dispose();
      evaluate((y) => call(y, { form, chunkSize: 8 }), x);
      expect(tf.memory().numTensors, `${form} leaked tensors`).toBe(before);
    }
    tf.dispose(Object.values(x));
  });
});
