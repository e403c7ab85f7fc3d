// Fixes to tfjs 4.22 for training on webgpu under Node, found with `node --cpu-prof` on the H100
// (MetaLA d=256, 4 layers, B=32, T=512):
//  - Uploading a CPU-resident tensor (every JS-number scalar such as `mul(x, 0.5)`) takes a
//    pooled buffer and, when that buffer is not freshly mapped, creates a new mapped staging
//    buffer for the copy — a native buffer creation per upload. queue.writeBuffer does the same
//    copy through Dawn's own staging ring. Ordering is unchanged: a pooled buffer is never
//    referenced by unsubmitted commands (tfjs returns buffers to the pool only after submit), and
//    writeBuffer lands after all earlier submits and before the next one.
//  - A kernel whose input or output is over the per-buffer binding limit is refused before it is
//    dispatched (patchBindingLimit), instead of Dawn's asynchronous validation errors.
//  - The idle buffers of tfjs's pool can be given back to the device (releaseFreeBuffers).
// Gradient fixes that apply to every backend are in gradients.ts.
import * as tf from '@tensorflow/tfjs';
import { GpuBufferLimitError } from '../util/errors.js';
import { clearDispatchCache } from './webgpu_dispatch.js';
import { resetPoolHistory } from './webgpu_pool.js';
import { noteOutsideWork, noteUploadSource } from './step_replay.js';

// The pieces of tfjs-backend-webgpu's WebGPUBackend that the upload patch touches.
interface TensorData {
  values: ArrayLike<number> | null;
  dtype: string;
  shape: number[];
  resource: unknown;
}
interface WebgpuBackendInternals {
  tensorMap: { get(id: object): TensorData };
  bufferManager: { acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): { size: number } };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView): void };
  uploadToGPU(dataId: object): void;
}

declare const GPUBufferUsage: { STORAGE: number; COPY_SRC: number; COPY_DST: number };

let uploadPatched = false;

/** Replaces WebGPUBackend.uploadToGPU for CPU-resident float32/int32 data (see 2. above). */
export function patchWebgpuUploads(): void {
  if (uploadPatched) return;
  const backend = tf.backend() as unknown as WebgpuBackendInternals;
  const proto = Object.getPrototypeOf(backend) as WebgpuBackendInternals;
  const original = proto.uploadToGPU;
  proto.uploadToGPU = function (this: WebgpuBackendInternals, dataId: object): void {
    const d = this.tensorMap.get(dataId);
    if (d.resource != null || d.values == null || d.values.length === 0 || (d.dtype !== 'float32' && d.dtype !== 'int32' && d.dtype !== 'bool')) {
      original.call(this, dataId);
      return;
    }
    const n = d.shape.reduce((a, b) => a * b, 1);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = this.bufferManager.acquireBuffer(4 * n, usage, false);
    const v = d.values;
    const data = d.dtype === 'float32' ? (v instanceof Float32Array ? v : Float32Array.from(v)) : v instanceof Int32Array ? v : Int32Array.from(v);
    if (data === v) noteUploadSource(data);
    this.queue.writeBuffer(buffer, 0, data);
    d.resource = buffer;
    d.values = null;
  };
  uploadPatched = true;
}

interface BufferPool {
  freeBuffers: Map<string, { destroy(): void; size: number }[]>;
  numFreeBuffers: number;
  numBytesAllocated: number;
}

/**
 * Destroy the buffers tfjs's webgpu pool keeps free for reuse; returns the bytes released.
 * The pool reuses a buffer only for a tensor of exactly the same byte size, so the buffers of
 * shapes seen once (an evaluation pass, a last partial batch) stay allocated for the rest of the
 * run: on the H100, MQAR runs sharing one GPU ran out of memory at their first evaluation. Safe at
 * any time: a pooled buffer is never referenced by unsubmitted commands, and Dawn frees a
 * destroyed buffer only after the submitted work using it has finished.
 */
export function releaseFreeBuffers(backend: unknown): number {
  const pool = (backend as { bufferManager?: BufferPool }).bufferManager;
  if (pool === undefined) return 0;
  // Cached bind groups and the pool's step history may reference the buffers destroyed below.
  clearDispatchCache();
  resetPoolHistory();
  noteOutsideWork();
  let bytes = 0;
  for (const list of pool.freeBuffers.values()) {
    for (const b of list) {
      bytes += b.size;
      b.destroy();
    }
    // Keep the (now empty) key: releaseBuffer() ignores every release once the map is empty.
    list.length = 0;
  }
  pool.numFreeBuffers = 0;
  pool.numBytesAllocated -= bytes;
  return bytes;
}

interface ProgramLike {
  outputShape: number[];
  constructor: { name: string };
}
interface TensorInfoLike {
  shape: number[];
}
interface RunProgramBackend {
  device: { limits: { maxStorageBufferBindingSize: number } };
  runWebGPUProgram(program: ProgramLike, inputs: TensorInfoLike[], ...rest: unknown[]): unknown;
}

let limitPatched = false;

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB (${bytes.toLocaleString('en-US')} bytes)`;

/**
 * Refuse a kernel whose input or output is over the device's per-buffer binding limit, before it
 * is dispatched. Without this Dawn only reports the bind-group validation error asynchronously,
 * after printing it for every later kernel that touches the invalid buffers (hundreds of lines),
 * and the step's numbers are garbage until the loop notices. Every dtype tfjs-webgpu stores is
 * 4 bytes per element (bool as int32).
 */
export function patchBindingLimit(): void {
  if (limitPatched) return;
  const backend = tf.backend() as unknown as RunProgramBackend;
  const proto = Object.getPrototypeOf(backend) as RunProgramBackend;
  const original = proto.runWebGPUProgram;
  proto.runWebGPUProgram = function (this: RunProgramBackend, program: ProgramLike, inputs: TensorInfoLike[], ...rest: unknown[]): unknown {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    const check = (shape: number[], what: string): void => {
      const bytes = 4 * shape.reduce((a, b) => a * b, 1);
      if (bytes > limit) {
        const op = program.constructor.name.replace(/Program$/, '') || 'kernel';
        throw new GpuBufferLimitError(`GPU kernel ${op}: its ${what} [${shape.join(', ')}] is ${gib(bytes)}, over the device's ${gib(limit)} per-buffer binding limit`);
      }
    };
    check(program.outputShape, 'output');
    for (const x of inputs) check(x.shape, 'input');
    return original.call(this, program, inputs, ...rest);
  };
  limitPatched = true;
}
