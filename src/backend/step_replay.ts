// Record a training step's GPU commands once, then replay them (the idea of CUDA graphs).
//
// A step's host cost on webgpu is tfjs's JavaScript: per kernel, the op's bookkeeping, its program
// and shader key, the uniform block, the bind group (measured ~75 µs per dispatch for the whole step
// against ~3.5 µs for Dawn's own record + submit, lavapipe). A training step repeats the same kernels
// on the same shapes, and with the step-repeating pool (webgpu_pool.ts), the dispatch cache
// (webgpu_dispatch.ts) and in-place parameter updates (assignInPlace) on the same buffers: the same
// pipelines, the same bind groups, the same dispatch sizes. So the step is captured at the Dawn
// level — every queue.writeBuffer, every command encoded, every submit — and when two consecutive
// captured steps are identical, the next steps re-issue that list without running the step's
// JavaScript. What changes from step to step are the host arrays it uploads: the batch and the
// optimizer's per-step scalars (the roots the caller gives), and arrays computed from them
// (host_inputs.ts `derived`), which the replay recomputes and writes where the captured step wrote
// them. Every other upload is a constant of the step and must be byte-identical in the two captures.
//
// A step runs in full (and is captured again) instead of being replayed when:
//   - GPU commands ran since the last step outside it (an evaluation, a checkpoint's read-back,
//     buffers destroyed), or another StepReplay's step ran: replay resumes once a capture matches
//     the recording again (buffers may have moved);
//   - its recomputed host arrays differ in length, or a guard in value, from the captured ones
//     (shapes or control flow changed);
//   - tfjs's profiler is on (its timers need tfjs's own dispatch path).
// A step whose two captures differ is not replayed; `whyNot` says where they differ (e.g. random
// numbers drawn on the host, as ViT's drop path does; dropout draws on the GPU: layers/dropout.ts).
// Porting note: CUDA graphs capture one stream with static input buffers; here the inputs are
// host arrays the replay writes into the captured upload buffers, and the graph is a list of
// Dawn calls re-issued (WebGPU has no compute bundles).
// METALA_STEP_REPLAY=off turns replay off (every step runs its JavaScript, as before).
import * as tf from '@tensorflow/tfjs';
import { MetalaError } from '../util/errors.js';
import { beginHostCapture, endHostCapture, evaluateHostGraph, hostBytes, hostRefOf, type HostArray, type HostGraph, type HostRef } from './host_inputs.js';
import { markGpuStep, notePeakBytesUsed, peekPeakBytesUsed } from './webgpu_pool.js';

declare const GPUBuffer: abstract new () => object;
declare const GPUBufferUsage: { MAP_READ: number; COPY_DST: number };
declare const GPUMapMode: { READ: number };

interface BufferLike {
  size: number;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}
interface PassLike {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown, ...rest: unknown[]): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface EncoderLike {
  beginComputePass(d?: object): PassLike;
  copyBufferToBuffer(src: unknown, so: number, dst: unknown, dOff: number, size: number): void;
  finish(): object;
}
interface QueueLike {
  writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView | ArrayBuffer, ...rest: unknown[]): void;
  submit(cbs: object[]): void;
}
interface DeviceLike {
  queue: QueueLike;
  createCommandEncoder(d?: object): EncoderLike;
  createBuffer(d: { size: number; usage: number }): BufferLike;
}
interface BackendInternals {
  device: DeviceLike;
  tensorMap: { get(id: object): { resource: unknown } | undefined };
  commandEncoder: unknown;
  activeTimers: unknown;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

type EncoderOp =
  | { k: 'begin' }
  | { k: 'end' }
  | { k: 'dispatch'; pipeline: unknown; group: unknown; x: number; y: number; z: number }
  | { k: 'copy'; src: unknown; srcOffset: number; dst: unknown; dstOffset: number; size: number };
type StepEvent = { k: 'write'; buffer: unknown; offset: number; byteLength: number; bytes?: Uint8Array; ref?: HostRef } | { k: 'submit'; ops: EncoderOp[] };

/** Dawn's own functions, bound; the replay calls these (not the recording wrappers). */
interface Raw {
  device: DeviceLike;
  createCommandEncoder(): EncoderLike;
  writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView | ArrayBuffer, ...rest: unknown[]): void;
  submit(cbs: object[]): void;
}

let raw: Raw | undefined;
/** The events of the step being captured; undefined when not capturing. */
let events: StepEvent[] | undefined;
/** Why the step being captured cannot be replayed (a command the replay does not re-issue). */
let unsupported: string | undefined;
/** GPU commands issued outside a step (writes, encoders, submits); a replay needs none since the last step. */
let outside = 0;
/** True from a step's start to its end (its own read-back included). */
let inStep = false;
/** The StepReplay whose step ran last: another's steps move buffers too (e.g. two models in one process). */
let lastOwner: object | undefined;
/** The host array an upload is writing (set by the upload patch for the one writeBuffer that follows). */
let uploadSource: ArrayBufferView | undefined;

/** Steps captured and replayed in this process, over every StepReplay (tests and bench read them). */
const totals = { captured: 0, replayed: 0 };

/** Totals since the last call. */
export function takeReplayTotals(): { captured: number; replayed: number } {
  const t = { ...totals };
  totals.captured = 0;
  totals.replayed = 0;
  return t;
}

/** Called by the upload patch (webgpu_patches.ts) right before it writes a tensor's host values. */
export function noteUploadSource(values: ArrayBufferView): void {
  uploadSource = values;
}

/** A command other than a step's (e.g. buffers destroyed): the next step is captured again. */
export function noteOutsideWork(): void {
  outside++;
}

function recordingEncoder(enc: EncoderLike, ops: EncoderOp[], finished: WeakMap<object, EncoderOp[]>): EncoderLike {
  let pipeline: unknown;
  let group: unknown;
  const pass = (p: PassLike): PassLike => ({
    setPipeline(x: unknown) {
      pipeline = x;
      p.setPipeline(x);
    },
    setBindGroup(i: number, g: unknown, ...rest: unknown[]) {
      if (i !== 0 || rest.length > 0) unsupported ??= 'a bind group other than group 0, or with dynamic offsets';
      group = g;
      p.setBindGroup(i, g, ...rest);
    },
    dispatchWorkgroups(x: number, y = 1, z = 1) {
      ops.push({ k: 'dispatch', pipeline, group, x, y, z });
      p.dispatchWorkgroups(x, y, z);
    },
    end() {
      ops.push({ k: 'end' });
      p.end();
    },
  });
  return new Proxy(enc, {
    get(target, prop) {
      if (prop === 'beginComputePass') {
        return (d?: { timestampWrites?: unknown }) => {
          if (d?.timestampWrites !== undefined) unsupported ??= 'timestamp queries (a profiler)';
          ops.push({ k: 'begin' });
          return pass(target.beginComputePass(d));
        };
      }
      if (prop === 'copyBufferToBuffer') {
        return (src: unknown, srcOffset: number, dst: unknown, dstOffset: number, size: number) => {
          ops.push({ k: 'copy', src, srcOffset, dst, dstOffset, size });
          target.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
        };
      }
      if (prop === 'finish') {
        return (d?: object) => {
          const cb = (target.finish as (d?: object) => object).call(target, d);
          finished.set(cb, ops);
          return cb;
        };
      }
      const v = (target as unknown as Record<string | symbol, unknown>)[prop];
      if (typeof v === 'function') {
        unsupported ??= `the command ${String(prop)}`;
        return (v as (...a: unknown[]) => unknown).bind(target);
      }
      return v;
    },
  });
}

/** Wraps the device's encoder creation and the queue's writes and submits (once per device). */
function install(be: BackendInternals): Raw {
  if (raw !== undefined && raw.device === be.device) return raw;
  const device = be.device;
  const queue = device.queue;
  const r: Raw = {
    device,
    createCommandEncoder: device.createCommandEncoder.bind(device),
    writeBuffer: queue.writeBuffer.bind(queue) as Raw['writeBuffer'],
    submit: queue.submit.bind(queue),
  };
  const finished = new WeakMap<object, EncoderOp[]>();
  device.createCommandEncoder = (d?: object): EncoderLike => {
    const enc = (r.createCommandEncoder as (d?: object) => EncoderLike)(d);
    if (events === undefined) {
      if (!inStep) outside++;
      return enc;
    }
    return recordingEncoder(enc, [], finished);
  };
  queue.writeBuffer = (buffer: unknown, offset: number, data: ArrayBufferView | ArrayBuffer, ...rest: unknown[]): void => {
    const source = uploadSource;
    uploadSource = undefined;
    if (events === undefined) {
      if (!inStep) outside++;
    } else if (rest.length > 0 || !ArrayBuffer.isView(data)) {
      unsupported ??= 'a partial buffer write';
    } else {
      const ref = source === data ? hostRefOf(data) : undefined;
      const bytes = ref === undefined ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() : undefined;
      events.push({ k: 'write', buffer, offset, byteLength: data.byteLength, ...(ref !== undefined ? { ref } : { bytes }) });
    }
    r.writeBuffer(buffer, offset, data, ...rest);
  };
  queue.submit = (cbs: object[]): void => {
    if (events === undefined) {
      if (!inStep) outside++;
    } else {
      const ops: EncoderOp[] = [];
      for (const cb of cbs) {
        const o = finished.get(cb);
        if (o === undefined) unsupported ??= 'a command buffer recorded before the step';
        else ops.push(...o);
      }
      events.push({ k: 'submit', ops });
    }
    r.submit(cbs);
  };
  raw = r;
  return r;
}

function sameRef(a: HostRef, b: HostRef): boolean {
  return a.node === b.node && a.out === b.out && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameOp(a: EncoderOp, b: EncoderOp): boolean {
  if (a.k !== b.k) return false;
  if (a.k === 'dispatch' && b.k === 'dispatch') return a.pipeline === b.pipeline && a.group === b.group && a.x === b.x && a.y === b.y && a.z === b.z;
  if (a.k === 'copy' && b.k === 'copy') return a.src === b.src && a.dst === b.dst && a.srcOffset === b.srcOffset && a.dstOffset === b.dstOffset && a.size === b.size;
  return true;
}

function sameGraph(a: HostGraph, b: HostGraph): boolean {
  if (a.roots !== b.roots || a.nodes.length !== b.nodes.length) return false;
  return a.nodes.every((n, i) => {
    const m = b.nodes[i]!;
    return (
      String(n.fn) === String(m.fn) &&
      n.lengths.length === m.lengths.length &&
      n.lengths.every((l, k) => l === m.lengths[k]) &&
      n.sources.length === m.sources.length &&
      n.sources.every((s, k) => sameRef(s, m.sources[k]!))
    );
  });
}

interface Recording {
  events: StepEvent[];
  graph: HostGraph;
  outputs: { buffer: unknown; bytes: number }[];
  /** Peak GPU bytes in use during the captured step (a replayed step has the same). */
  peak: number;
  dispatches: number;
  /** The events as a replay issues them (replayPlan), made at the first replay. */
  plan?: StepEvent[];
}

/**
 * The captured events with each run of submits that no write separates merged into one submit of
 * one compute pass (ended only around copies). A write lands on the queue between the submits
 * around it, so those boundaries stay; within a pass, WebGPU orders the dispatches' buffer accesses
 * as across passes. Fewer encoders, passes and submits for Dawn to process per step.
 */
function replayPlan(events: readonly StepEvent[]): StepEvent[] {
  const plan: StepEvent[] = [];
  for (const e of events) {
    const last = plan[plan.length - 1];
    if (e.k === 'submit') {
      const ops = e.ops.filter((o) => o.k === 'dispatch' || o.k === 'copy');
      if (last?.k === 'submit') last.ops.push(...ops);
      else plan.push({ k: 'submit', ops });
    } else {
      plan.push(e);
    }
  }
  // The outputs are copied out at the end of the last submit: there must be one after every write.
  if (plan[plan.length - 1]?.k !== 'submit') plan.push({ k: 'submit', ops: [] });
  return plan;
}

/** Where two captures of a step differ, or undefined if they are the same. */
function difference(a: Recording, b: Recording): string | undefined {
  if (!sameGraph(a.graph, b.graph)) return 'its host computations differ';
  if (a.outputs.length !== b.outputs.length || a.outputs.some((o, i) => o.buffer !== b.outputs[i]!.buffer || o.bytes !== b.outputs[i]!.bytes)) return 'its outputs lie in other buffers';
  if (a.events.length !== b.events.length) return `it issued ${b.events.length} queue operations, ${a.events.length} the step before`;
  for (let i = 0; i < a.events.length; i++) {
    const x = a.events[i]!;
    const y = b.events[i]!;
    if (x.k === 'write' && y.k === 'write') {
      if (x.buffer !== y.buffer || x.offset !== y.offset || x.byteLength !== y.byteLength) return `upload ${i} went to another buffer`;
      if (x.ref !== undefined && y.ref !== undefined && sameRef(x.ref, y.ref)) continue;
      if (x.bytes !== undefined && y.bytes !== undefined && sameBytes(x.bytes, y.bytes)) continue;
      return `upload ${i} (${x.byteLength} bytes) changes from step to step and is not computed from the step's inputs (e.g. random numbers drawn on the host)`;
    }
    if (x.k === 'submit' && y.k === 'submit') {
      if (x.ops.length !== y.ops.length) return `submit ${i} encodes ${y.ops.length} commands, ${x.ops.length} the step before`;
      const j = x.ops.findIndex((o, j) => !sameOp(o, y.ops[j]!));
      if (j >= 0) {
        const o = y.ops[j]!;
        const what = o.k === 'dispatch' ? (o.pipeline === (x.ops[j] as { pipeline?: unknown }).pipeline ? 'binds other buffers' : 'runs another kernel') : o.k === 'copy' ? 'copies other buffers' : 'differs';
        return `command ${j} (${o.k}) of submit ${i} ${what}`;
      }
      continue;
    }
    return `queue operation ${i} differs`;
  }
  return undefined;
}

export function stepReplayEnabled(): boolean {
  const v = process.env['METALA_STEP_REPLAY'];
  if (v === undefined || v === '' || v === 'on') return true;
  if (v === 'off') return false;
  throw new MetalaError(`METALA_STEP_REPLAY: '${v}' is not on or off. Set METALA_STEP_REPLAY=on (the default) or off`, 2);
}

/**
 * One training step's GPU work, captured and replayed. `run(roots, body)`: body issues the step
 * (tf ops; it may call `derived` for host arrays computed from roots) and returns the tensors to
 * read back (float32); they are read, disposed and returned as arrays. On other backends, or with
 * replay off, every call runs body.
 */
export class StepReplay {
  private rec: Recording | undefined;
  private confirmed = false;
  private outsideAtEnd = -1;
  private staging: BufferLike | undefined;
  private issueStart = 0;
  /** Steps that ran their JavaScript (captured) and steps replayed. */
  readonly stats = { captured: 0, replayed: 0 };
  /** Why the last captured step could not be replayed, if it could not. */
  whyNot: string | undefined;
  /**
   * Host time to issue the last step: from the call to its last submit, before waiting for the
   * GPU (the step's JavaScript, or the replay's re-encoding), ms; and whether it was replayed.
   */
  lastIssue: { ms: number; replayed: boolean; dispatches: number; submits?: number } = { ms: 0, replayed: false, dispatches: 0 };
  /** False on other backends and with METALA_STEP_REPLAY=off: every step runs its JavaScript. */
  readonly enabled: boolean;

  constructor(enabled = stepReplayEnabled()) {
    this.enabled = enabled && tf.getBackend() === 'webgpu';
  }

  async run(roots: readonly HostArray[], body: () => tf.Tensor[]): Promise<Float32Array[]> {
    this.issueStart = performance.now();
    const be = tf.backend() as unknown as BackendInternals;
    // tf.profile times kernels through tfjs's own dispatch path: those steps run as they are.
    const profiling = (tf.engine() as unknown as { state: { profiling: boolean } }).state.profiling;
    if (!this.enabled || profiling || be.activeTimers != null) return this.plain(body);
    // Steps do not overlap (the loops await each one): the outside-work count relies on it.
    if (inStep) throw new Error('internal: a training step started while another was in flight');
    const r = install(be);
    const mine = lastOwner === this;
    lastOwner = this;
    if (this.rec !== undefined && this.confirmed && mine && outside === this.outsideAtEnd) {
      const host = evaluateHostGraph(this.rec.graph, roots);
      if (host !== undefined) return this.replay(r, this.rec, host);
    }
    return this.capture(be, roots, body);
  }

  /** Frees the read-back buffer and forgets the recording. */
  dispose(): void {
    this.staging?.destroy();
    this.staging = undefined;
    this.rec = undefined;
  }

  private async plain(body: () => tf.Tensor[]): Promise<Float32Array[]> {
    markGpuStep();
    const outs = body();
    this.lastIssue = { ms: performance.now() - this.issueStart, replayed: false, dispatches: 0 };
    try {
      return await Promise.all(outs.map(async (o) => (await o.data()) as Float32Array));
    } finally {
      tf.dispose(outs);
    }
  }

  private async capture(be: BackendInternals, roots: readonly HostArray[], body: () => tf.Tensor[]): Promise<Float32Array[]> {
    // Commands queued before the step are not part of it.
    be.endComputePassEncoder();
    if (be.commandEncoder != null) be.submitQueue();
    this.confirmed = false;
    inStep = true;
    events = [];
    unsupported = undefined;
    beginHostCapture(roots);
    let outs: tf.Tensor[] = [];
    try {
      let host: ReturnType<typeof endHostCapture>;
      let captured: StepEvent[];
      try {
        markGpuStep();
        outs = body();
        be.endComputePassEncoder();
        if (be.commandEncoder != null) be.submitQueue();
        this.lastIssue = { ms: performance.now() - this.issueStart, replayed: false, dispatches: 0 };
      } finally {
        captured = events;
        events = undefined;
        host = endHostCapture();
      }
      this.stats.captured++;
      totals.captured++;
      const outputs = outs.map((o) => ({ buffer: be.tensorMap.get(o.dataId)?.resource, bytes: 4 * o.size }));
      let why = unsupported ?? ('why' in host ? host.why : undefined);
      if (why === undefined && !outputs.every((o) => o.buffer instanceof GPUBuffer && o.bytes > 0)) why = 'an output is not in a GPU buffer';
      if (why === undefined && outs.some((o) => o.dtype !== 'float32')) why = 'an output is not float32';
      const values = await Promise.all(outs.map(async (o) => (await o.data()) as Float32Array));
      if (why !== undefined || !('graph' in host)) {
        this.rec = undefined;
        this.whyNot = why;
        return values;
      }
      const dispatches = captured.reduce((n, e) => n + (e.k === 'submit' ? e.ops.filter((o) => o.k === 'dispatch').length : 0), 0);
      this.lastIssue.dispatches = dispatches;
      this.lastIssue.submits = captured.filter((e) => e.k === 'submit').length;
      const rec: Recording = { events: captured, graph: host.graph, outputs, peak: peekPeakBytesUsed(), dispatches };
      const diff = this.rec === undefined ? 'it is the first step captured' : difference(this.rec, rec);
      this.confirmed = diff === undefined;
      this.whyNot = diff;
      this.rec = rec;
      return values;
    } finally {
      tf.dispose(outs);
      inStep = false;
      this.outsideAtEnd = outside;
    }
  }

  private async replay(r: Raw, rec: Recording, host: HostArray[][]): Promise<Float32Array[]> {
    inStep = true;
    try {
      // Read the outputs back through one staging buffer, copied at the end of the last submit.
      const total = rec.outputs.reduce((n, o) => n + o.bytes, 0);
      if (this.staging === undefined || this.staging.size < total) {
        this.staging?.destroy();
        this.staging = r.device.createBuffer({ size: total, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      }
      const staging = this.staging;
      const plan = (rec.plan ??= replayPlan(rec.events));
      plan.forEach((e, i) => {
        if (e.k === 'write') {
          r.writeBuffer(e.buffer, e.offset, e.ref !== undefined ? hostBytes(host, e.ref) : e.bytes!);
          return;
        }
        const enc = r.createCommandEncoder();
        let pass: PassLike | undefined;
        let pipeline: unknown;
        for (const op of e.ops) {
          if (op.k === 'dispatch') {
            pass ??= enc.beginComputePass({});
            if (op.pipeline !== pipeline) pass.setPipeline((pipeline = op.pipeline));
            pass.setBindGroup(0, op.group);
            pass.dispatchWorkgroups(op.x, op.y, op.z);
          } else if (op.k === 'copy') {
            pass?.end();
            pass = undefined;
            pipeline = undefined;
            enc.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
          }
        }
        pass?.end();
        if (i === plan.length - 1) {
          let off = 0;
          for (const o of rec.outputs) {
            enc.copyBufferToBuffer(o.buffer, 0, staging, off, o.bytes);
            off += o.bytes;
          }
        }
        r.submit([enc.finish()]);
      });
      this.lastIssue = { ms: performance.now() - this.issueStart, replayed: true, dispatches: rec.dispatches, submits: plan.filter((e) => e.k === 'submit').length };
      await staging.mapAsync(GPUMapMode.READ);
      const all = new Float32Array(staging.getMappedRange().slice(0, total));
      staging.unmap();
      this.stats.replayed++;
      totals.replayed++;
      notePeakBytesUsed(rec.peak);
      let off = 0;
      return rec.outputs.map((o) => {
        const v = all.slice(off / 4, (off + o.bytes) / 4);
        off += o.bytes;
        return v;
      });
    } finally {
      inStep = false;
      this.outsideAtEnd = outside;
    }
  }
}
