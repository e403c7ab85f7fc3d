// Micro-benchmark of the recurrence forms (not a test): forward + backward time per form and chunk
// size. Build and run:  npx esbuild test/ops/bench.ts --bundle --platform=node --format=esm \
//   --packages=external --outfile=test/ops/.bench.mjs && node test/ops/.bench.mjs [backend] [B T H K V]
// (OPS=gla,hgrn limits the ops; a --format=cjs full bundle runs on a GPU host with METALA_DAWN_NODE).
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../../src/backend/index.js';
import type { BackendName } from '../../src/backend/index.js';
import { deltaRule, gatedDeltaRule, gla, hgrn, simpleGla } from '../../src/ops/index.js';
import type { Form } from '../../src/ops/index.js';
import { Rng } from './harness.js';

const [backend = 'cpu', ...dimArgs] = process.argv.slice(2);
const [B, T, H, K, V] = dimArgs.length === 5 ? dimArgs.map(Number) as [number, number, number, number, number] : [4, 512, 2, 32, 64];
const only = process.env['OPS']?.split(',');

async function time(run: () => tf.Tensor, reps = 3): Promise<number> {
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const r = run();
    await r.data();
    r.dispose();
    return performance.now() - t0;
  };
  await once(); // warm-up (kernel compilation on webgpu)
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) ts.push(await once());
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

type Cfg = [Form, number?, ('loop' | 'scan')?];
type Call = (x: tf.Tensor[], form: Form, chunkSize?: number, statePass?: 'loop' | 'scan') => tf.Tensor;

async function bench(name: string, inputs: tf.Tensor[], call: Call, configs: Cfg[]): Promise<void> {
  if (only !== undefined && !only.includes(name)) return;
  for (const [form, c, sp] of configs) {
    const fwd = await time(() => tf.tidy(() => call(inputs, form, c, sp)));
    const bwd = await time(() =>
      tf.tidy(() => {
        const gs = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.square(call(xs, form, c, sp))))(inputs);
        return tf.addN(gs.map((g) => tf.sum(g)));
      }),
    );
    console.log(`${name.padEnd(15)} ${(form + (c === undefined ? '' : ` C=${c}`) + (sp === undefined ? '' : ` ${sp}`)).padEnd(17)} fwd ${fwd.toFixed(1).padStart(8)} ms   fwd+bwd ${bwd.toFixed(1).padStart(8)} ms   tensors ${tf.memory().numTensors}`);
  }
}

async function main(): Promise<void> {
const info = await initBackend(backend as BackendName);
console.log(`backend ${info.backend} (${info.device}); B=${B} T=${T} H=${H} K=${K} V=${V}`);
const rng = new Rng(1);
const q = rng.randn([B, T, H, K]);
const k = rng.randn([B, T, H, K]);
const kn = rng.unitRows([B, T, H, K]);
const v = rng.randn([B, T, H, V]);
const g = rng.logDecay([B, T, H, K], 16);
const gh = rng.logDecay([B, T, H], 16);
const beta = rng.uniformTensor([B, T, H], 0, 1);
const x = rng.randn([B, T, H * V]);
const gx = rng.logDecay([B, T, H * V], 1);
const chunks: Cfg[] = [['chunk', 8], ['chunk', 16], ['chunk', 32], ['chunk', 64]];
const scans: Cfg[] = [['chunk', 8, 'scan'], ['chunk', 16, 'scan'], ['chunk', 32, 'scan'], ['chunk', 64, 'scan']];
const withNaive = (cfg: Cfg[]): Cfg[] => (T <= 512 ? [['naive'], ...cfg] : cfg);
const wantState = false;
await bench('gla', [q, k, v, g], (a, form, c, sp) => gla(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, a[2] as tf.Tensor4D, a[3] as tf.Tensor4D, { form, chunkSize: c, wantState, statePass: sp }).o, withNaive([...chunks, ...scans]));
await bench('simpleGla', [q, k, v, gh], (a, form, c, sp) => simpleGla(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, a[2] as tf.Tensor4D, a[3] as tf.Tensor3D, { form, chunkSize: c, wantState, statePass: sp }).o, withNaive([['parallel'], ...chunks, ...scans]));
await bench('deltaRule', [q, kn, v, beta], (a, form, c, sp) => deltaRule(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, a[2] as tf.Tensor4D, a[3] as tf.Tensor3D, { form, chunkSize: c, wantState, statePass: sp }).o, withNaive(chunks));
await bench('gatedDeltaRule', [q, kn, v, gh, beta], (a, form, c, sp) => gatedDeltaRule(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, a[2] as tf.Tensor4D, a[3] as tf.Tensor3D, a[4] as tf.Tensor3D, { form, chunkSize: c, wantState, statePass: sp }).o, chunks);
await bench('hgrn', [x, gx], (a, form, c, sp) => hgrn(a[0] as tf.Tensor3D, a[1] as tf.Tensor3D, { form, chunkSize: c, wantState, statePass: sp }).o, withNaive([['parallel'], ['chunk', 16], ['chunk', 32], ['chunk', 16, 'scan'], ['chunk', 32, 'scan']]));
await shutdownBackend();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
