// Buffer reuse that repeats itself from one training step to the next.
//
// tfjs's pool hands out the most recently freed buffer of a size (LIFO). A step's sequence of
// allocations is the same every step, but the buffers that are free at its start are a permutation
// of the last step's (the step's new weights and moments took buffers the old ones gave back), so the
// k-th allocation of a size lands on a different buffer each step. Bind groups name buffers, so the
// dispatch cache (webgpu_dispatch.ts) then misses: measured 0–30% hits over 12 steps (lavapipe,
// MetaLA d 64). Here, between markGpuStep() calls, the k-th allocation of a size prefers the buffer
// that the k-th allocation of that size got in the previous step, when it is free, else the one it
// got two steps ago, else tfjs's LIFO choice. Two steps, because the weights and moments alternated
// between two buffers (tf.Variable.assign takes over the new value's buffer): the buffer allocation
// k got last step was often still held (by the weights it became), while the one from two steps ago
// was free again. With only the last step, the MQAR-128 model (lavapipe, after 12 steps) found 306
// of a step's 336 bind groups in the cache, and 253 with the lean reverse pass (whose early frees
// shift more allocations); with both steps, 334 and 335. AdamW now updates them in place
// (assign_in_place.ts, for step replay), so each step's allocations repeat the last step's exactly.
// Without markGpuStep calls (evaluation, decoding) this is tfjs's pool.
import * as tf from '@tensorflow/tfjs';

interface GpuBufferLike {
  size: number;
  usage: number;
}
interface BufferManagerInternals {
  freeBuffers: Map<string, GpuBufferLike[]>;
  usedBuffers: Map<string, GpuBufferLike[]>;
  numFreeBuffers: number;
  numUsedBuffers: number;
  numBytesUsed: number;
  numBytesAllocated: number;
  device: { createBuffer(d: { size: number; usage: number; mappedAtCreation: boolean }): GpuBufferLike };
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GpuBufferLike;
}

/** Allocation index per size key in the current step, and what each index got in this and the last step. */
const counters = new Map<string, number>();
let previous = new Map<string, GpuBufferLike[]>();
let beforePrevious = new Map<string, GpuBufferLike[]>();
let current = new Map<string, GpuBufferLike[]>();
let patchedManager: BufferManagerInternals | undefined;
const stats = { preferred: 0, other: 0 };
/** The most bytes in use at once since the last takePeakBytesUsed (tensors' buffers; not the free ones the pool keeps). */
let peakUsed = 0;

/**
 * The peak of GPU bytes in use (live tensors, and the ones freed but still owned by unsubmitted
 * work) since the last call, then restarts from what is in use now: the number comparable with
 * PyTorch's torch.cuda.max_memory_allocated. tf.memory().numBytesAllocatedInGPU adds the pool's
 * free buffers to it. 0 when the webgpu pool is not patched.
 */
export function takePeakBytesUsed(): number {
  const p = peakUsed;
  peakUsed = patchedManager?.numBytesUsed ?? 0;
  return p;
}

/** The peak since the last takePeakBytesUsed, without restarting it. */
export function peekPeakBytesUsed(): number {
  return peakUsed;
}

/** A replayed step (step_replay.ts) used the buffers of its capture, whose peak this was. */
export function notePeakBytesUsed(bytes: number): void {
  if (bytes > peakUsed) peakUsed = bytes;
}

/** Marks the start of a training step (no-op unless the webgpu pool is patched). */
export function markGpuStep(): void {
  if (patchedManager === undefined) return;
  beforePrevious = previous;
  previous = current;
  current = new Map();
  counters.clear();
}

/** Allocations that got last step's buffer, and those that did not, since the last call. */
export function takePoolStats(): { preferred: number; other: number } {
  const s = { ...stats };
  stats.preferred = 0;
  stats.other = 0;
  return s;
}

/** Forget every buffer (releaseFreeBuffers destroyed the free ones). */
export function resetPoolHistory(): void {
  previous = new Map();
  beforePrevious = new Map();
  current = new Map();
  counters.clear();
}

export function patchStepPool(): void {
  const be = tf.backend() as unknown as { bufferManager: BufferManagerInternals };
  const m = be.bufferManager;
  if (patchedManager === m) return;
  const original = m.acquireBuffer.bind(m);
  m.acquireBuffer = (size: number, usage: number, mappedAtCreation = false, reuse = true): GpuBufferLike => {
    if (!reuse || mappedAtCreation) return original(size, usage, mappedAtCreation, reuse);
    const key = `${size}_${usage}`;
    const k = counters.get(key) ?? 0;
    counters.set(key, k + 1);
    const free = m.freeBuffers.get(key);
    let want = previous.get(key)?.[k];
    let at = want !== undefined && free !== undefined ? free.lastIndexOf(want) : -1;
    if (at < 0) {
      want = beforePrevious.get(key)?.[k];
      at = want !== undefined && free !== undefined ? free.lastIndexOf(want) : -1;
    }
    let buffer: GpuBufferLike;
    if (at >= 0) {
      // Take it out of the free list (order of the rest does not matter) and book it as tfjs does.
      free![at] = free![free!.length - 1]!;
      free!.pop();
      m.numFreeBuffers--;
      if (!m.usedBuffers.has(key)) m.usedBuffers.set(key, []);
      m.usedBuffers.get(key)!.push(want!);
      m.numUsedBuffers++;
      m.numBytesUsed += size;
      buffer = want!;
      stats.preferred++;
    } else {
      buffer = original(size, usage, mappedAtCreation, reuse);
      stats.other++;
    }
    let got = current.get(key);
    if (got === undefined) {
      got = [];
      current.set(key, got);
    }
    got[k] = buffer;
    if (m.numBytesUsed > peakUsed) peakUsed = m.numBytesUsed;
    return buffer;
  };
  patchedManager = m;
}
