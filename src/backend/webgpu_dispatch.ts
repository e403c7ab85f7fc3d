// Host cost of a WebGPU kernel launch: tfjs-backend-webgpu 4.22 records every dispatch by
//   building the uniform block (shapes, strides, program uniforms) into a pooled buffer + writeBuffer,
//   pipeline.getBindGroupLayout(0)    (a new layout object per call),
//   device.createBindGroup(...)       (measured 21 µs of the ~40 µs a bare tf.add costs, Dawn on lavapipe),
//   setPipeline / setBindGroup / dispatchWorkgroups.
// A training step repeats the same programs on the same shapes, and because tfjs's buffer pool hands
// out buffers in the same order every step, largely on the same buffers. So:
//   - uniform blocks are cached by content (program key, shapes, program uniforms): one persistent
//     uniform buffer per distinct block, written once;
//   - layouts are cached per pipeline;
//   - bind groups are cached by (pipeline, the buffers bound, the uniform buffer).
// Everything else (command encoder, one compute pass per WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE
// dispatches, the ownership bookkeeping that defers buffer reuse until submit) is tfjs's own logic,
// mirrored here. A cached bind group holds buffers tfjs may later destroy (only releaseFreeBuffers
// does, see webgpu_patches.ts), so that clears the cache (clearDispatchCache). Programs timed by
// tfjs's profiler and pixel programs keep tfjs's path.
import * as tf from '@tensorflow/tfjs';

declare const GPUBuffer: abstract new () => object;

interface UniformEntry {
  type: string;
  data: ArrayLike<number>;
}
interface ProgramLike {
  shaderKey: string;
  pipeline: PipelineLike | Promise<unknown>;
  dispatch: [number, number, number];
  size?: boolean;
  outputComponent?: number;
  pixelsOpType?: unknown;
  outputShape: number[];
}
interface PipelineLike {
  getBindGroupLayout(i: number): unknown;
}
interface TensorInfoLike {
  dataId: object;
  shape: number[];
}
interface UniformBinding {
  offset: number;
  size: number;
  buffer: object;
}
interface PassLike {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y: number, z: number): void;
}
interface BackendInternals {
  activeTimers: unknown;
  device: { createBindGroup(d: { layout: unknown; entries: { binding: number; resource: unknown }[] }): unknown };
  tensorMap: { get(id: object): { resource: unknown } };
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: { beginComputePass(d: object): PassLike } | null;
  computePassEncoder: PassLike | null;
  dispatchCountInPass: number;
  uniformPendingDisposal: object[];
  recordAndSubmit(program: ProgramLike, output: TensorInfoLike, inputs: TensorInfoLike[], uniforms?: UniformEntry[]): void;
  makeUniforms(u: UniformEntry[]): UniformBinding;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** Caches beyond this many entries are dropped whole (a run whose buffers keep changing). */
const MAX_ENTRIES = 65536;

const uniforms = new Map<string, UniformBinding>();
const layouts = new WeakMap<object, unknown>();
const bindGroups = new Map<string, unknown>();
const ids = new WeakMap<object, number>();
let nextId = 1;
const stats = { hits: 0, misses: 0 };

function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) {
    id = nextId++;
    ids.set(o, id);
  }
  return id;
}

/** tfjs's uniform block for a dispatch: NaN, Infinity, then shape and strides per binding, size, program uniforms. */
function uniformEntries(program: ProgramLike, inputs: TensorInfoLike[], output: TensorInfoLike, extra: UniformEntry[] | undefined): UniformEntry[] {
  const u: UniformEntry[] = [
    { type: 'float32', data: [NaN] },
    { type: 'float32', data: [Infinity] },
  ];
  for (const t of [...inputs, output]) {
    u.push({ type: 'int32', data: t.shape });
    u.push({ type: 'int32', data: tf.util.computeStrides(t.shape) });
  }
  if (program.size === true) {
    const size = tf.util.sizeFromShape(program.outputShape);
    u.push({ type: 'int32', data: [program.outputComponent ? size / program.outputComponent : size] });
  }
  return extra === undefined ? u : [...u, ...extra];
}

function uniformKey(program: ProgramLike, inputs: TensorInfoLike[], output: TensorInfoLike, extra: UniformEntry[] | undefined): string {
  let k = `${program.shaderKey}|${program.size === true ? 's' : ''}|${output.shape.join(',')}`;
  for (const t of inputs) k += `|${t.shape.join(',')}`;
  if (extra !== undefined) for (const e of extra) k += `|${e.type}:${Array.from(e.data).join(',')}`;
  return k;
}

/** The persistent uniform binding for this block (written once, never returned to tfjs's pool). */
function cachedUniform(be: BackendInternals, program: ProgramLike, inputs: TensorInfoLike[], output: TensorInfoLike, extra: UniformEntry[] | undefined): UniformBinding {
  const key = uniformKey(program, inputs, output, extra);
  let u = uniforms.get(key);
  if (u === undefined) {
    if (uniforms.size >= MAX_ENTRIES) clearDispatchCache();
    u = be.makeUniforms(uniformEntries(program, inputs, output, extra));
    // makeUniforms queued its buffer for release at the next submit; this one stays.
    const i = be.uniformPendingDisposal.lastIndexOf(u.buffer);
    if (i >= 0) be.uniformPendingDisposal.splice(i, 1);
    uniforms.set(key, u);
  }
  return u;
}

/**
 * Drops every cached bind group (they may reference buffers about to be destroyed). The uniform
 * buffers stay: nothing destroys them.
 */
export function clearDispatchCache(): void {
  bindGroups.clear();
}

/** Hits and misses of the bind-group cache since the last call (bench --profile reports them). */
export function takeDispatchCacheStats(): { hits: number; misses: number } {
  const s = { ...stats };
  stats.hits = 0;
  stats.misses = 0;
  return s;
}

let patched = false;

export function patchDispatchCache(): void {
  if (patched) return;
  const be = tf.backend() as unknown as BackendInternals;
  const proto = Object.getPrototypeOf(be) as BackendInternals;
  const original = proto.recordAndSubmit;
  proto.recordAndSubmit = function (this: BackendInternals, program: ProgramLike, output: TensorInfoLike, inputs: TensorInfoLike[], extra?: UniformEntry[]): void {
    if (this.activeTimers != null || program.pixelsOpType != null || program.pipeline instanceof Promise) {
      original.call(this, program, output, inputs, extra);
      return;
    }
    const buffers = [output, ...inputs].map((t) => this.tensorMap.get(t.dataId).resource);
    if (!buffers.every((b) => b instanceof GPUBuffer)) {
      original.call(this, program, output, inputs, extra);
      return;
    }
    const pipeline = program.pipeline as PipelineLike;
    const uniform = cachedUniform(this, program, inputs, output, extra);
    let key = `${idOf(pipeline)}|${idOf(uniform.buffer)}`;
    for (const b of buffers) key += `,${idOf(b as object)}`;
    let group = bindGroups.get(key);
    if (group === undefined) {
      stats.misses++;
      if (bindGroups.size >= MAX_ENTRIES) bindGroups.clear();
      let layout = layouts.get(pipeline);
      if (layout === undefined) {
        layout = pipeline.getBindGroupLayout(0);
        layouts.set(pipeline, layout);
      }
      const entries = buffers.map((b, i) => ({ binding: i, resource: { buffer: b } }));
      entries.push({ binding: buffers.length, resource: uniform as unknown as { buffer: unknown } });
      group = this.device.createBindGroup({ layout, entries });
      bindGroups.set(key, group);
    } else {
      stats.hits++;
    }
    for (const t of inputs) this.commandQueueOwnedIds.add(t.dataId);
    this.commandQueueOwnedIds.add(output.dataId);
    this.ensureCommandEncoderReady();
    this.computePassEncoder ??= this.commandEncoder!.beginComputePass({});
    this.computePassEncoder.setPipeline(pipeline);
    this.computePassEncoder.setBindGroup(0, group);
    this.computePassEncoder.dispatchWorkgroups(program.dispatch[0], program.dispatch[1], program.dispatch[2]);
    this.dispatchCountInPass++;
    if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= this.dispatchCountInPass) {
      this.endComputePassEncoder();
      this.submitQueue();
    }
  };
  patched = true;
}
