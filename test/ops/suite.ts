// One test suite for every recurrence op: golden fixtures (every form), forms agreeing with the
// naive reference on outputs and gradients (T ∈ {1,7,63,100}, chunk sizes that don't divide T,
// weak and strong decays, with an initial state), causality, and no tensor leaks.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '../helpers/close.js';
import type { Evaluated, OpResult } from './harness.js';
import { Rng, evaluate, goldenTensor, loadGolden } from './harness.js';

export type FormName = 'naive' | 'parallel' | 'chunk';

export interface CallOptions {
  /** undefined: the op's default form. */
  form?: FormName;
  chunkSize?: number;
  wantState?: boolean;
  statePass?: 'loop' | 'scan';
}

export interface OpSpec {
  /** Op name = golden file name. */
  name: string;
  forms: FormName[];
  /** Random inputs (with `initialState` when asked) for a sequence of length t. */
  makeInputs(rng: Rng, t: number, temperature: number, withState: boolean): Record<string, tf.Tensor>;
  /** Calls the op; `x.initialState` (if present) is passed as the initial state. */
  call(x: Record<string, tf.Tensor>, opts: CallOptions): OpResult;
  /** Inputs indexed by time on axis 1 (perturbed by the causality test). */
  timeInputs: string[];
  /** Chunk sizes tried for each T in the agreement tests. */
  chunkSizes(t: number): number[];
  /** The chunk form supports statePass 'scan' (tested besides 'loop'). */
  scan: boolean;
}

/** Max errors measured against the golden files, printed once per op (for the report). */
const measured: string[] = [];

function compare(got: Evaluated, want: Evaluated, label: string, rtolO: number, rtolG: number): { o: number; g: number } {
  const o1 = expectClose(got.o, want.o, { name: `${label} o`, rtol: rtolO }).maxRel;
  const o2 = expectClose(got.finalState, want.finalState, { name: `${label} finalState`, rtol: rtolO }).maxRel;
  let g = 0;
  for (const n of Object.keys(want.grads)) {
    g = Math.max(g, expectClose(got.grads[n]!, want.grads[n]!, { name: `${label} d${n}`, rtol: rtolG }).maxRel);
  }
  return { o: Math.max(o1, o2), g };
}

export function describeOp(spec: OpSpec): void {
  describe(spec.name, () => {
    beforeAll(async () => {
      await tf.setBackend('cpu');
    });

    describe('golden (float64 reference)', () => {
      const goldenRuns: [FormName, 'loop' | 'scan' | undefined][] = spec.forms.map((f) => [f, undefined]);
      if (spec.scan) goldenRuns.push(['chunk', 'scan']);
      for (const [form, statePass] of goldenRuns) {
        const name = statePass === undefined ? form : `${form}+${statePass}`;
        it(`${name} matches outputs and gradients`, () => {
          const gold = loadGolden(spec.name);
          const inputs: Record<string, tf.Tensor> = {};
          for (const [n, t] of Object.entries(gold.inputs)) inputs[n] = goldenTensor(t);
          const cot = { do: goldenTensor(gold.cotangents.do), dFinal: goldenTensor(gold.cotangents.dfinal_state) };
          const got = evaluate((x) => spec.call(x, { form, statePass }), inputs, cot);
          const want: Evaluated = {
            o: Float32Array.from(gold.outputs.o.data),
            finalState: Float32Array.from(gold.outputs.final_state.data),
            grads: Object.fromEntries(Object.entries(gold.grads).map(([n, t]) => [n, Float32Array.from(t.data)])),
          };
          const err = compare(got, want, `${spec.name}/${name} vs golden`, 1e-5, 1e-4);
          measured.push(`${spec.name}/${name}: outputs ${err.o.toExponential(2)}, grads ${err.g.toExponential(2)}`);
          console.log(`[golden] ${measured[measured.length - 1]}`);
          tf.dispose([...Object.values(inputs), cot.do, cot.dFinal]);
        });
      }
    });

    describe('forms agree with naive (outputs and gradients, incl. initialState)', () => {
      for (const t of [1, 7, 63, 100]) {
        for (const temperature of [16, 1]) {
          it(`T=${t}, g=logsigmoid(z)/${temperature}`, () => {
            const rng = new Rng(1000 * t + temperature);
            const inputs = spec.makeInputs(rng, t, temperature, true);
            const ref = evaluate((x) => spec.call(x, { form: 'naive' }), inputs);
            for (const form of spec.forms.filter((f) => f !== 'naive')) {
              const sizes = form === 'chunk' ? spec.chunkSizes(t) : [undefined];
              const passes = form === 'chunk' && spec.scan ? (['loop', 'scan'] as const) : ([undefined] as const);
              for (const chunkSize of sizes) {
                for (const statePass of passes) {
                  const got = evaluate((x) => spec.call(x, { form, chunkSize, statePass }), inputs);
                  const label = `${form}${chunkSize === undefined ? '' : `(C=${chunkSize}${statePass === undefined ? '' : `, ${statePass}`})`}`;
                  compare(got, ref, `${label} vs naive`, 1e-5, 1e-4);
                }
              }
            }
            // Default form (what callers get without asking).
            const def = tf.tidy(() => spec.call(inputs, {}).o.dataSync());
            expectClose(def, ref.o, { name: 'default form o', rtol: 1e-5 });
            tf.dispose(Object.values(inputs));
          });
        }
      }
    });

    it('extreme decays (g up to ≈ −100 per step) give finite outputs and gradients that agree', () => {
      const rng = new Rng(99);
      const inputs = spec.makeInputs(rng, 40, 0.05, true);
      const ref = evaluate((x) => spec.call(x, { form: 'naive' }), inputs);
      for (const form of spec.forms.filter((f) => f !== 'naive')) {
        const got = evaluate((x) => spec.call(x, { form, chunkSize: 16 }), inputs);
        const all = [got.o, got.finalState, ...Object.values(got.grads)];
        expect(all.every((a) => a.every(Number.isFinite)), `${form}: non-finite values`).toBe(true);
        compare(got, ref, `${form} vs naive (extreme decay)`, 1e-5, 1e-4);
      }
      tf.dispose(Object.values(inputs));
    });

    it('is causal: changing inputs after t0 leaves o[:, :t0+1] unchanged (every form)', () => {
      const t = 40;
      const t0 = 17;
      const rng = new Rng(7);
      const a = spec.makeInputs(rng, t, 1, true);
      const b: Record<string, tf.Tensor> = { ...a };
      for (const n of spec.timeInputs) {
        const x = a[n]!;
        const keep = tf.slice(x, 0, [x.shape[0]!, t0 + 1]);
        const rest = tf.slice(x, [0, t0 + 1]);
        // Keep decays ≤ 0 and beta in (0,1) when perturbing: scale by a random factor in [0.5, 1.5].
        b[n] = tf.concat([keep, tf.mul(rest, rng.uniformTensor(rest.shape, 0.5, 1.5))], 1);
        tf.dispose([keep, rest]);
      }
      for (const form of spec.forms) {
        const [oa, ob] = [a, b].map((x) =>
          tf.tidy(() => {
            const o = spec.call(x, { form, chunkSize: 16 }).o;
            return tf.slice(o, 0, [o.shape[0]!, t0 + 1]).dataSync();
          }),
        );
        expectClose(ob!, oa!, { name: `${form} o[:, :t0+1]`, rtol: 0, atol: 1e-6 });
        const full = [a, b].map((x) => tf.tidy(() => spec.call(x, { form, chunkSize: 16 }).o.dataSync()));
        expect(full[0]!.some((va, i) => va !== full[1]![i])).toBe(true); // the perturbation did reach later outputs
      }
      tf.dispose([...Object.values(a), ...spec.timeInputs.map((n) => b[n]!)]);
    });

    it('leaks no tensors (forward, wantState false, gradients)', () => {
      const rng = new Rng(11);
      const inputs = spec.makeInputs(rng, 21, 4, true);
      for (const form of spec.forms) {
        const before = tf.memory().numTensors;
        const r = spec.call(inputs, { form, chunkSize: 8 });
        expect(r.finalState).toBeDefined();
        tf.dispose([r.o, r.finalState!]);
        const r2 = spec.call(inputs, { form, chunkSize: 8, wantState: false });
        expect(r2.finalState).toBeUndefined();
        tf.dispose(r2.o);
        evaluate((x) => spec.call(x, { form, chunkSize: 8 }), inputs);
        if (spec.scan) {
          tf.dispose(Object.values(spec.call(inputs, { form, chunkSize: 8, statePass: 'scan' })));
          evaluate((x) => spec.call(x, { form, chunkSize: 8, statePass: 'scan' }), inputs);
        }
        expect(tf.memory().numTensors, `${form} leaked tensors`).toBe(before);
      }
      tf.dispose(Object.values(inputs));
    });
  });
}
