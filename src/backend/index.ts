// Chooses and initialises the TF.js backend (DESIGN.md §3). The only place that knows about
// backends: models are written from raw tf ops that every backend implements.
//   auto       webgpu when a hardware GPU adapter exists, else wasm (a software Vulkan adapter such
//              as lavapipe is slower than wasm on the same CPU)
//   wasm       XNNPACK SIMD, one thread (Node has no wasm threads); patched (wasm_patches.ts)
//   cpu        pure JS; slow reference
//   webgpu     Dawn through the optional `webgpu` package (webgpu.ts)
//   tensorflow @tensorflow/tfjs-node-gpu or -node, only if the user installed one
import * as tf from '@tensorflow/tfjs';
import { registerGradientFixes } from './gradients.js';
import { installLeanBackward, installLeanSaves } from './lean_backward.js';
import { headLogitsMaxBytes } from './logits_limit.js';
import { stepReplayEnabled } from './step_replay.js';
import { MetalaError } from '../util/errors.js';

import { BACKENDS, setBackendShutdown, type BackendInfo, type BackendName } from './types.js';

export { BACKENDS, type BackendInfo, type BackendName };

let current: BackendInfo | undefined;

export function currentBackend(): BackendInfo | undefined {
  return current;
}

async function cpuModel(): Promise<string> {
  const os = await import('node:os');
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'cpu'} (${cpus.length} cores)`;
}

/** The cpu backend prints a "use tfjs-node" banner on first use; we choose backends deliberately. */
function quietCpuBackend(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu !== null) cpu.firstUse = false;
}

async function initWasm(): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // Inside the single-file bundle the .wasm files sit beside metala.cjs (bundle.ts sets this).
  const wasmDir = process.env['METALA_WASM_DIR'];
  if (wasmDir !== undefined && wasmDir !== '') wasm.setWasmPaths(wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`);
  const { applyWasmPatches, registerFastSegmentSum } = await import('./wasm_patches.js');
  if (!(await tf.setBackend('wasm'))) throw new MetalaError('backend wasm failed to initialise. Use --backend cpu');
  await tf.ready();
  applyWasmPatches();
  registerFastSegmentSum('cpu');
  quietCpuBackend();
  return { backend: 'wasm', device: await cpuModel() };
}

async function initCpu(): Promise<BackendInfo> {
  const { registerFastSegmentSum } = await import('./wasm_patches.js');
  await tf.setBackend('cpu');
  await tf.ready();
  registerFastSegmentSum('cpu');
  quietCpuBackend();
  return { backend: 'cpu', device: await cpuModel() };
}

async function initTensorflow(): Promise<BackendInfo> {
  const tried: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      await tf.setBackend('tensorflow');
      await tf.ready();
      return { backend: 'tensorflow', device: pkg };
    } catch (e) {
      tried.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new MetalaError(
    `backend 'tensorflow' unavailable (${tried.join('; ')}). Install @tensorflow/tfjs-node-gpu where libtensorflow can be downloaded, or use --backend webgpu|wasm`,
  );
}

/**
 * Initialise a backend once per process. `auto` tries webgpu and falls back to wasm only when
 * no hardware adapter exists (a broken GPU setup with an adapter is an error, not a silent fallback).
 */
export async function initBackend(name: BackendName = 'auto'): Promise<BackendInfo> {
  if (current !== undefined) {
    if (name === 'auto' || name === current.backend) return current;
    throw new MetalaError(`backend already initialised as '${current.backend}'; cannot switch to '${name}' in one process`);
  }
  let info: BackendInfo;
  switch (name) {
    case 'wasm':
      info = await initWasm();
      break;
    case 'cpu':
      info = await initCpu();
      break;
    case 'tensorflow':
      info = await initTensorflow();
      break;
    case 'webgpu': {
      const { initWebgpu } = await import('./webgpu.js');
      const gpu = await initWebgpu({ required: true });
      if (gpu === undefined) throw new MetalaError('backend webgpu: no GPU adapter found. Use --backend wasm');
      info = gpu;
      break;
    }
    case 'auto': {
      const { initWebgpu } = await import('./webgpu.js');
      const gpu = process.env['METALA_NO_GPU'] === '1' ? undefined : await initWebgpu({ required: false, hardwareOnly: true });
      info = gpu ?? (await initWasm());
      break;
    }
  }
  // Same values on every backend, no CPU-side ones per reduction gradient, and Tile's gradient as one
  // reduction instead of a slice per repetition (gradients.ts).
  registerGradientFixes();
  // A backward pass that frees each activation's gradient and each op's saved tensors once used
  // (tfjs keeps them all to the end of the pass; lean_backward.ts). On by default everywhere: on
  // webgpu it halves a step's peak in use (MetaLA d 512, 8 layers, 2,048 tokens on lavapipe: 1.77 GB
  // instead of 3.69 GB; results/bench/ref2-sixteenth-memory-flat-adamw-frees-lean-*-lavapipe.json).
  // Its early frees shift which buffer an allocation gets; the step-repeating pool (webgpu_pool.ts)
  // repeats that pattern too, so the dispatch cache still finds nearly every bind group (MQAR-128
  // model on lavapipe: 335 of 336 with it, 334 without; results/bench/
  // mqar128-layout-bind-group-hits-lean-*-two-step-pool-lavapipe.json). METALA_LEAN_BACKWARD=off
  // gives tfjs's own pass.
  installLeanBackward(onOff('METALA_LEAN_BACKWARD', true));
  // Saved tensors as second references, not Identity kernels + tape nodes (host time per step),
  // and shape-only ones as stand-ins. METALA_LEAN_SAVES=off restores tfjs's (for an A/B).
  installLeanSaves(onOff('METALA_LEAN_SAVES', true));
  headLogitsMaxBytes(); // a bad METALA_HEAD_LOGITS_MAX_BYTES is one line now, not in a run's first step
  stepReplayEnabled(); // the same for METALA_STEP_REPLAY (step_replay.ts; webgpu only)
  applyFlagOverrides();
  current = info;
  setBackendShutdown(shutdownBackend);
  return info;
}

/** An on|off environment switch; unset gives `fallback`, anything else is a one-line error. */
function onOff(name: string, fallback: boolean): boolean {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  if (v !== 'on' && v !== 'off') throw new MetalaError(`${name}: '${v}' is not on or off. Unset it, or set on or off`);
  return v === 'on';
}

/**
 * The first asynchronous GPU error since the last call (webgpu only; see webgpu.ts), with a hint;
 * undefined when there was none or the backend is not webgpu.
 */
export async function takeGpuError(): Promise<string | undefined> {
  if (current?.backend !== 'webgpu') return undefined;
  const { takeGpuError: take } = await import('./webgpu.js');
  const e = take();
  if (e === undefined) return undefined;
  const hint = /binding size|maxBufferSize|max.*buffer/i.test(e)
    ? 'a tensor of this run is larger than one GPU buffer may be: set train.micro_batch_size (e.g. half of train.batch_size; same steps), or lower train.batch_size or the sequence length'
    : /out of memory|allocat/i.test(e)
      ? 'the GPU is out of memory: lower train.batch_size, or run fewer --jobs at once'
      : 'the numbers of this step are invalid';
  return `${e} (${hint})`;
}

/**
 * Give the GPU memory tfjs's buffer pool holds free back to the device (webgpu; 0 elsewhere).
 * The train loop calls it after each evaluation, whose shapes differ from the training step's.
 */
export async function releaseGpuPool(): Promise<number> {
  if (current?.backend !== 'webgpu') return 0;
  const { releaseFreeBuffers } = await import('./webgpu_patches.js');
  return releaseFreeBuffers(tf.backend());
}

/**
 * METALA_TF_FLAGS="NAME=value,NAME=value" sets TF.js environment flags after the backend is up
 * (e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64 for fewer queue submits on webgpu). For tuning runs.
 */
function applyFlagOverrides(): void {
  const spec = process.env['METALA_TF_FLAGS'];
  if (spec === undefined || spec.trim() === '') return;
  for (const kv of spec.split(',')) {
    const [k, v] = kv.split('=').map((s) => s.trim());
    if (k === undefined || v === undefined || k === '') throw new MetalaError(`METALA_TF_FLAGS: '${kv}' is not NAME=value`);
    const value: number | boolean | string = v === 'true' ? true : v === 'false' ? false : Number.isFinite(Number(v)) ? Number(v) : v;
    tf.env().set(k, value);
  }
}

/**
 * Marks the start of a training step: on webgpu the buffer pool then repeats the last step's
 * buffer choices, so the dispatch cache finds its bind groups (webgpu_pool.ts). No-op elsewhere.
 */
export { markGpuStep, takePeakBytesUsed } from './webgpu_pool.js';

/** Release backend resources so the process can exit (Dawn keeps Node alive otherwise). */
export async function shutdownBackend(): Promise<void> {
  if (current?.backend === 'webgpu') {
    const { shutdownWebgpu } = await import('./webgpu.js');
    shutdownWebgpu();
  }
}
