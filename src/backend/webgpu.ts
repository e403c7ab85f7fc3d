// WebGPU through Dawn (npm `webgpu`, an optional dependency) and @tensorflow/tfjs-backend-webgpu
// (tfjs-in-node.md §3.2). METALA_DAWN_NODE points at dawn.node directly: inside the single-file
// bundle the `webgpu` package cannot find its own binary (DESIGN.md §3).
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { MetalaError } from '../util/errors.js';
import type { BackendInfo } from './index.js';
import { registerWebgpuKernels } from './kernels/index.js';
import { patchDispatchCache } from './webgpu_dispatch.js';
import { patchStepPool } from './webgpu_pool.js';
import { patchBindingLimit, patchWebgpuUploads } from './webgpu_patches.js';

interface DawnModule {
  create(flags: string[]): { requestAdapter(opts?: object): Promise<GpuAdapterLike | null> };
  globals: Record<string, unknown>;
}
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; device?: string; isFallbackAdapter?: boolean };
  /** Older WebGPU spec revisions put the flag on the adapter itself. */
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
}

/** Where Dawn's Node module is: METALA_DAWN_NODE, or the installed `webgpu` package; undefined if neither. */
function dawnModulePath(): string | undefined {
  const explicit = process.env['METALA_DAWN_NODE'];
  if (explicit !== undefined && explicit !== '') return explicit;
  try {
    return createRequire(import.meta.url ?? __filename).resolve('webgpu');
  } catch {
    return undefined;
  }
}

// Run by the probe child (CommonJS, `node -e`): one JSON line, the adapter's kind or null.
const PROBE = `
const d = require(process.env.METALA_PROBE_DAWN);
d.create([]).requestAdapter({ powerPreference: 'high-performance' }).then((a) => {
  const i = (a && a.info) || {};
  process.stdout.write(JSON.stringify(a ? { software: i.isFallbackAdapter === true || a.isFallbackAdapter === true || i.architecture === 'software' } : null));
  process.exit(0);
}, () => { process.stdout.write('null'); process.exit(0); });`;

/**
 * Backend auto asks a child process whether a hardware WebGPU adapter exists. Enumerating adapters
 * makes Dawn and the Vulkan loader print warnings from native code on stderr (with Mesa's lavapipe,
 * present on many Linux machines without a GPU: "maxDynamicUniformBuffersPerPipelineLayout
 * artificially reduced …"); in the child they go nowhere, so a CPU machine settles on wasm quietly.
 * Costs one short process (~0.3 s) where Dawn is installed.
 */
function probeAdapter(modulePath: string): 'hardware' | 'software' | 'none' {
  const r = spawnSync(process.execPath, ['-e', PROBE], { env: { ...process.env, METALA_PROBE_DAWN: modulePath }, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const j = JSON.parse(r.stdout ?? 'null') as { software: boolean } | null;
    return j === null ? 'none' : j.software ? 'software' : 'hardware';
  } catch {
    return 'none';
  }
}

async function loadDawn(): Promise<{ dawn?: DawnModule; why?: string }> {
  const explicit = process.env['METALA_DAWN_NODE'];
  try {
    if (explicit !== undefined && explicit !== '') {
      const req = createRequire(import.meta.url ?? __filename);
      return { dawn: req(explicit) as DawnModule };
    }
    const pkg = 'webgpu';
    return { dawn: (await import(pkg)) as DawnModule };
  } catch (e) {
    return { why: `${explicit ?? "the 'webgpu' package"} could not be loaded (${(e as Error).message.split('\n')[0]})` };
  }
}

function adapterName(a: GpuAdapterLike): string {
  const i = a.info ?? {};
  // Dawn on NVIDIA reports the driver in `description`; `device` carries the GPU name when known.
  return [i.vendor, i.device, i.architecture, i.description].filter((s) => s !== undefined && s !== '').join(' / ') || 'unknown GPU';
}

/**
 * A software adapter (Mesa's lavapipe/llvmpipe, SwiftShader): WebGPU's `isFallbackAdapter`, or
 * Dawn's architecture 'software'. It computes on the CPU, several times slower than wasm there.
 */
export function isSoftwareAdapter(a: GpuAdapterLike): boolean {
  return a.info?.isFallbackAdapter === true || a.isFallbackAdapter === true || a.info?.architecture === 'software';
}

/** One adapter as Dawn describes it (`metala bench --adapter`). */
export interface AdapterDescription {
  /** Dawn instance toggles the adapter was requested with. */
  flags: string[];
  name: string;
  features: string[];
  subgroup_sizes?: [number, number];
  /** Matrix shapes and component types of chromium-experimental-subgroup-matrix (tensor cores), if offered. */
  subgroup_matrix_configs?: { componentType: string; resultComponentType: string; M: number; N: number; K: number }[];
  limits: Record<string, number>;
}

/**
 * What Dawn offers on this machine, with and without `allow_unsafe_apis` (experimental features such
 * as subgroup matrices appear only with it): which kernels are possible here, e.g. whether a
 * tensor-core path has float component types to work with. No tfjs backend is started.
 */
export async function describeAdapters(): Promise<AdapterDescription[]> {
  const { dawn, why } = await loadDawn();
  if (dawn === undefined) throw new MetalaError(`bench --adapter: ${why}. Install the optional 'webgpu' package or set METALA_DAWN_NODE`, 2);
  Object.assign(globalThis, dawn.globals);
  const out: AdapterDescription[] = [];
  for (const flags of [[], ['enable-dawn-features=allow_unsafe_apis']]) {
    const a = (await dawn.create(flags).requestAdapter({ powerPreference: 'high-performance' })) as
      | (GpuAdapterLike & { features: Set<string>; info?: { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: Iterable<Record<string, unknown>> }; subgroupMatrixConfigs?: Iterable<Record<string, unknown>> })
      | null;
    if (a === null) throw new MetalaError('bench --adapter: no WebGPU adapter found. Check the GPU driver and VK_DRIVER_FILES', 2);
    const keep = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension'];
    const limits = Object.fromEntries(keep.map((k) => [k, Number(a.limits[k])]));
    const configs = a.subgroupMatrixConfigs ?? a.info?.subgroupMatrixConfigs;
    const i = a.info;
    out.push({
      flags,
      name: adapterName(a),
      features: [...a.features].sort(),
      ...(i?.subgroupMinSize !== undefined && i.subgroupMaxSize !== undefined ? { subgroup_sizes: [i.subgroupMinSize, i.subgroupMaxSize] as [number, number] } : {}),
      // Dawn's config objects keep their fields on the prototype: read them by name.
      ...(configs !== undefined ? { subgroup_matrix_configs: [...configs].map((c) => ({ componentType: String(c['componentType']), resultComponentType: String(c['resultComponentType']), M: Number(c['M']), N: Number(c['N']), K: Number(c['K']) })) } : {}),
      limits,
    });
  }
  return out;
}

let navigatorSet = false;
let firstGpuError: string | undefined;

/**
 * The first uncaptured WebGPU error since the last call (validation, out of memory), or undefined.
 * Dawn reports these asynchronously and tfjs does not check them, so without this a failed buffer
 * or bind group would silently produce zeros; callers (the training loop, bench) turn it into an error.
 */
export function takeGpuError(): string | undefined {
  const e = firstGpuError;
  firstGpuError = undefined;
  return e;
}

/**
 * Returns undefined when no adapter exists and `required` is false (the caller falls back to wasm).
 * With `required`, every failure is a clear MetalaError. With `hardwareOnly` (backend auto), a
 * child process probes the adapters first (probeAdapter) and a software adapter also returns
 * undefined, silently: `auto` on a CPU machine with Mesa's Vulkan drivers installed trains on wasm,
 * not on lavapipe (several times slower there), and prints nothing about it.
 */
export async function initWebgpu(opts: { required: boolean; hardwareOnly?: boolean }): Promise<BackendInfo | undefined> {
  if (opts.hardwareOnly === true && !opts.required) {
    const path = dawnModulePath();
    if (path === undefined || probeAdapter(path) !== 'hardware') return undefined;
  }
  const { dawn, why } = await loadDawn();
  if (dawn === undefined) {
    if (!opts.required) return undefined;
    throw new MetalaError(`backend webgpu unavailable: ${why}. Install the optional 'webgpu' package (npm install webgpu) or set METALA_DAWN_NODE to dawn.node; or use --backend wasm`);
  }
  Object.assign(globalThis, dawn.globals);
  const flags = (process.env['METALA_DAWN_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  const gpu = dawn.create(flags);
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    if (opts.required) throw new MetalaError(`backend webgpu: requestAdapter failed (${(e as Error).message}). Check the Vulkan driver (VK_DRIVER_FILES), or use --backend wasm`);
  }
  if (adapter === null) {
    if (!opts.required) return undefined;
    throw new MetalaError('backend webgpu: no GPU adapter found (no Vulkan device visible to Dawn). Use --backend wasm, or check the GPU driver and VK_DRIVER_FILES');
  }
  if (opts.hardwareOnly === true && isSoftwareAdapter(adapter)) {
    process.stderr.write(`backend auto: the only WebGPU adapter is a software one (${adapterName(adapter)}), so wasm runs instead; --backend webgpu uses it anyway\n`);
    return undefined;
  }
  // tfjs-backend-webgpu reads navigator.gpu when it is imported, so set it first.
  (globalThis as { navigator?: unknown }).navigator = { gpu, userAgent: 'node' };
  navigatorSet = true;
  await import('@tensorflow/tfjs-backend-webgpu');
  // tfjs-backend-webgpu requests the adapter's own limits (maxStorageBufferBindingSize,
  // maxBufferSize, …) when it creates the device, so H100-sized buffers are allowed.
  const ok = await tf.setBackend('webgpu');
  if (!ok) throw new MetalaError('backend webgpu failed to initialise. Use --backend wasm');
  await tf.ready();
  registerWebgpuKernels();
  patchWebgpuUploads();
  patchBindingLimit();
  // METALA_DISPATCH_CACHE=off keeps tfjs's own dispatch recording and buffer pool (for measuring what
  // the caches buy).
  const cache = process.env['METALA_DISPATCH_CACHE'] ?? '';
  if (cache !== '' && cache !== 'on' && cache !== 'off') throw new MetalaError(`METALA_DISPATCH_CACHE: '${cache}' is not on or off. Unset it, or set on or off`);
  if (cache !== 'off') {
    patchDispatchCache();
    patchStepPool();
  }
  const device = (tf.backend() as unknown as { device: { onuncapturederror: ((ev: { error?: { message?: string } }) => void) | null } }).device;
  device.onuncapturederror = (ev) => {
    firstGpuError ??= (ev.error?.message ?? 'unknown WebGPU error').trim().split('\n')[0];
  };
  return { backend: 'webgpu', device: adapterName(adapter) };
}

export function shutdownWebgpu(): void {
  if (navigatorSet) delete (globalThis as { navigator?: unknown }).navigator;
}
