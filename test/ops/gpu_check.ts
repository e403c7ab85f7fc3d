// Correctness of every op/form on a GPU backend (not a vitest test: the test suite runs on cpu).
// Bundle with the golden files inlined and run where webgpu works:
//   npx esbuild test/ops/gpu_check.ts --bundle --platform=node --format=cjs --outfile=OUT.cjs
//   METALA_DAWN_NODE=.../dawn.node node OUT.cjs webgpu
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../../src/backend/index.js';
import type { BackendName } from '../../src/backend/index.js';
import { deltaRule, gatedDeltaRule, gla, hgrn, simpleGla } from '../../src/ops/index.js';
import type { Form, StatePass } from '../../src/ops/index.js';
import deltaJson from '../../../shared/golden/ops/delta_rule.json' with { type: 'json' };
import gatedDeltaJson from '../../../shared/golden/ops/gated_delta_rule.json' with { type: 'json' };
import glaJson from '../../../shared/golden/ops/gla.json' with { type: 'json' };
import hgrnJson from '../../../shared/golden/ops/hgrn.json' with { type: 'json' };
import simpleGlaJson from '../../../shared/golden/ops/simple_gla.json' with { type: 'json' };
import type { Evaluated, Golden, OpFn } from './harness.js';
import { Rng, goldenTensor } from './harness.js';

type Opts = { form?: Form; chunkSize?: number; statePass?: StatePass };
const T4 = (x: tf.Tensor): tf.Tensor4D => x as tf.Tensor4D;
const T3 = (x: tf.Tensor): tf.Tensor3D => x as tf.Tensor3D;
const ops: Record<string, { golden: Golden; call: (x: Record<string, tf.Tensor>, o: Opts) => ReturnType<OpFn> }> = {
  gla: { golden: glaJson as Golden, call: (x, o) => gla(T4(x.q!), T4(x.k!), T4(x.v!), T4(x.g!), o) },
  simple_gla: { golden: simpleGlaJson as Golden, call: (x, o) => simpleGla(T4(x.q!), T4(x.k!), T4(x.v!), T3(x.g!), o) },
  delta_rule: { golden: deltaJson as Golden, call: (x, o) => deltaRule(T4(x.q!), T4(x.k!), T4(x.v!), T3(x.beta!), o) },
  gated_delta_rule: { golden: gatedDeltaJson as Golden, call: (x, o) => gatedDeltaRule(T4(x.q!), T4(x.k!), T4(x.v!), T3(x.g!), T3(x.beta!), o) },
  hgrn: { golden: hgrnJson as Golden, call: (x, o) => hgrn(T3(x.x!), T3(x.g!), o) },
};

/** Like harness.evaluate, but reads back with async data() (webgpu has no dataSync in Node). */
async function evaluateAsync(fn: OpFn, inputs: Record<string, tf.Tensor>, cot?: { do: tf.Tensor; dFinal: tf.Tensor }): Promise<Evaluated> {
  const names = Object.keys(inputs);
  const out = tf.tidy(() => {
    const r = fn(inputs);
    const rng = new Rng(1234);
    const dO = cot?.do ?? rng.randn(r.o.shape);
    const dF = cot?.dFinal ?? rng.randn(r.finalState!.shape);
    const loss = (...xs: tf.Tensor[]): tf.Scalar => {
      const y = fn(Object.fromEntries(names.map((n, i) => [n, xs[i]!])));
      return tf.add(tf.sum(tf.mul(y.o, dO)), tf.sum(tf.mul(y.finalState!, dF)));
    };
    return [r.o, r.finalState!, ...tf.grads(loss)(names.map((n) => inputs[n]!))];
  });
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return { o: data[0]!, finalState: data[1]!, grads: Object.fromEntries(names.map((n, i) => [n, data[i + 2]!])) };
}

function maxRel(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    const d = Math.abs(got[i]! - want[i]!);
    err = Math.max(err, Number.isNaN(d) ? Infinity : d);
  }
  return err / (scale || 1);
}

async function main(): Promise<void> {
  const info = await initBackend((process.argv[2] ?? 'webgpu') as BackendName);
  console.log(`backend ${info.backend} (${info.device})`);
  const variants: Opts[] = [{ form: 'naive' }, { form: 'parallel' }, {}, { form: 'chunk', statePass: 'loop', chunkSize: 16 }, { form: 'chunk', statePass: 'scan', chunkSize: 8 }];
  let worst = 0;
  for (const [name, op] of Object.entries(ops)) {
    const g = op.golden;
    const inputs = Object.fromEntries(Object.entries(g.inputs).map(([n, t]) => [n, goldenTensor(t)]));
    const cot = { do: goldenTensor(g.cotangents.do), dFinal: goldenTensor(g.cotangents.dfinal_state) };
    for (const v of variants) {
      const r = await evaluateAsync((x) => op.call(x, v), inputs, cot);
      const eo = Math.max(maxRel(r.o, g.outputs.o.data), maxRel(r.finalState, g.outputs.final_state.data));
      const eg = Math.max(...Object.keys(g.grads).map((n) => maxRel(r.grads[n]!, g.grads[n]!.data)));
      worst = Math.max(worst, eo / 1e-5, eg / 1e-4);
      console.log(`golden ${name.padEnd(17)} ${JSON.stringify(v).padEnd(50)} outputs ${eo.toExponential(2)}  grads ${eg.toExponential(2)}`);
    }
    // Longer random sequence: default form vs naive, on this backend.
    const rng = new Rng(5);
    const t = 300;
    const big: Record<string, tf.Tensor> = {};
    for (const [n, gt] of Object.entries(g.inputs)) {
      const shape = [...gt.shape];
      shape[1] = t;
      big[n] = n === 'g' ? rng.logDecay(shape, name === 'hgrn' ? 1 : 16) : n === 'beta' ? rng.uniformTensor(shape, 0, 1) : n === 'q' || n === 'k' ? rng.unitRows(shape) : rng.randn(shape);
    }
    const ref = await evaluateAsync((x) => op.call(x, { form: 'naive' }), big);
    const got = await evaluateAsync((x) => op.call(x, {}), big);
    const eo = Math.max(maxRel(got.o, ref.o), maxRel(got.finalState, ref.finalState));
    const eg = Math.max(...Object.keys(ref.grads).map((n) => maxRel(got.grads[n]!, ref.grads[n]!)));
    worst = Math.max(worst, eo / 1e-5, eg / 1e-4);
    console.log(`T=${t}   ${name.padEnd(17)} default vs naive${' '.repeat(34)} outputs ${eo.toExponential(2)}  grads ${eg.toExponential(2)}`);
    tf.dispose([...Object.values(inputs), ...Object.values(big), cot.do, cot.dFinal]);
  }
  console.log(worst <= 1 ? 'ALL WITHIN TOLERANCE (outputs 1e-5, grads 1e-4)' : `OUT OF TOLERANCE: worst ratio ${worst.toFixed(2)}`);
  await shutdownBackend();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
