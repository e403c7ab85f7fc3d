// Where a webgpu training step's time goes, measured without changing how the step runs.
//
// tfjs's own profiler (tf.profile → kernelTimeMs) ends the compute pass and submits after every
// kernel to time it alone, so its per-kernel times and the step they add up to are inflated by the
// profiling itself. This timer instead asks for GPU timestamps at the beginning and end of each
// compute pass tfjs opens anyway (one pass per WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches), and
// counts dispatches and submits. Over one step it gives
//   gpu_busy_ms    Σ over passes (end − begin): the time the GPU spent executing the step's kernels
//   gpu_span_ms    last end − first begin: busy time plus the gaps where the GPU waited for the host
//   dispatches     kernel launches (GPU work; Reshape and friends launch none)
// and, with the host's wall time of recording the step (before waiting for its result), the host
// cost per launch. Needs the device's 'timestamp-query' feature (tfjs requests it when the adapter
// offers it; the H200 does).
import * as tf from '@tensorflow/tfjs';

declare const GPUBufferUsage: { QUERY_RESOLVE: number; COPY_SRC: number; COPY_DST: number; MAP_READ: number };
declare const GPUMapMode: { READ: number };

interface GpuBufferLike {
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}
interface QuerySetLike {
  destroy(): void;
}
interface PassDescriptor {
  timestampWrites?: { querySet: QuerySetLike; beginningOfPassWriteIndex: number; endOfPassWriteIndex: number };
}
interface CommandEncoderLike {
  beginComputePass(desc?: PassDescriptor): unknown;
  resolveQuerySet(q: QuerySetLike, first: number, count: number, dst: GpuBufferLike, offset: number): void;
  copyBufferToBuffer(src: GpuBufferLike, srcOffset: number, dst: GpuBufferLike, dstOffset: number, size: number): void;
  finish(): unknown;
}
interface DeviceLike {
  features: { has(f: string): boolean };
  createQuerySet(d: { type: 'timestamp'; count: number }): QuerySetLike;
  createBuffer(d: { size: number; usage: number }): GpuBufferLike;
  createCommandEncoder(): CommandEncoderLike;
  queue: { submit(c: unknown[]): void };
}
interface BackendInternals {
  device: DeviceLike;
  commandEncoder: CommandEncoderLike | null;
  ensureCommandEncoderReady(): void;
  recordAndSubmit(...args: unknown[]): void;
  submitQueue(): void;
}

export interface GpuStepTiming {
  gpu_busy_ms: number;
  gpu_span_ms: number;
  passes: number;
  dispatches: number;
  submits: number;
  /** Passes beyond the query set's capacity went untimed (gpu_busy_ms is then a lower bound). */
  untimed_passes: number;
}

/** Timestamps per pass: 2 queries each; a step of ~1,500 launches opens ~100 passes. */
const CAPACITY = 4096;

const state = {
  active: false,
  next: 0,
  dispatches: 0,
  submits: 0,
  untimed: 0,
  querySet: undefined as QuerySetLike | undefined,
};
let patched = false;

function backendInternals(): BackendInternals {
  return tf.backend() as unknown as BackendInternals;
}

/** Whether GPU timestamps can be taken (webgpu with 'timestamp-query'). */
export function gpuTimingAvailable(): boolean {
  if (tf.getBackend() !== 'webgpu') return false;
  return backendInternals().device.features.has('timestamp-query');
}

function install(): void {
  if (patched) return;
  const be = backendInternals();
  const proto = Object.getPrototypeOf(be) as BackendInternals;
  const record = proto.recordAndSubmit;
  proto.recordAndSubmit = function (this: BackendInternals, ...args: unknown[]): void {
    if (state.active) state.dispatches++;
    record.apply(this, args);
  };
  const submit = proto.submitQueue;
  proto.submitQueue = function (this: BackendInternals): void {
    if (state.active) state.submits++;
    submit.call(this);
  };
  // Every command encoder of the device shares one prototype: wrap its beginComputePass there.
  const probe = be.device.createCommandEncoder();
  const encProto = Object.getPrototypeOf(probe) as CommandEncoderLike;
  probe.finish();
  const begin = encProto.beginComputePass;
  encProto.beginComputePass = function (this: CommandEncoderLike, desc?: PassDescriptor): unknown {
    if (state.active && state.querySet !== undefined && (desc === undefined || desc.timestampWrites === undefined)) {
      if (state.next + 2 <= CAPACITY) {
        const d = { ...(desc ?? {}), timestampWrites: { querySet: state.querySet, beginningOfPassWriteIndex: state.next, endOfPassWriteIndex: state.next + 1 } };
        state.next += 2;
        return begin.call(this, d);
      }
      state.untimed++;
    }
    return begin.call(this, desc);
  };
  patched = true;
}

/** Starts counting (and timing, where timestamps exist) the work tfjs records from now on. */
export function startGpuTiming(): void {
  install();
  const be = backendInternals();
  // Work recorded before the start belongs to nobody's step: submit it untimed.
  if (be.commandEncoder !== null) be.submitQueue();
  if (gpuTimingAvailable()) state.querySet ??= be.device.createQuerySet({ type: 'timestamp', count: CAPACITY });
  Object.assign(state, { active: true, next: 0, dispatches: 0, submits: 0, untimed: 0 });
}

/** Stops and reads the timestamps back (waits for the GPU). */
export async function stopGpuTiming(): Promise<GpuStepTiming> {
  const be = backendInternals();
  if (be.commandEncoder !== null) be.submitQueue();
  state.active = false;
  const counts = { passes: state.next / 2 + state.untimed, dispatches: state.dispatches, submits: state.submits, untimed_passes: state.untimed };
  if (state.querySet === undefined || state.next === 0) return { gpu_busy_ms: NaN, gpu_span_ms: NaN, ...counts };
  const bytes = state.next * 8;
  const resolve = be.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = be.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = be.device.createCommandEncoder();
  enc.resolveQuerySet(state.querySet, 0, state.next, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, bytes);
  be.device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const ts = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  read.destroy();
  resolve.destroy();
  let busy = 0n;
  let first = ts[0]!;
  let last = ts[1]!;
  for (let i = 0; i + 1 < ts.length; i += 2) {
    const [b, e] = [ts[i]!, ts[i + 1]!];
    if (e > b) busy += e - b;
    if (b < first) first = b;
    if (e > last) last = e;
  }
  const ms = (ns: bigint): number => Math.round(Number(ns) / 1e4) / 100;
  return { gpu_busy_ms: ms(busy), gpu_span_ms: ms(last - first), ...counts };
}
