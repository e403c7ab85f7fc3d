// Variable updates that keep the variable's buffer.
//
// tf.Variable.assign(x) makes the variable take over x's data: after an optimizer step the weights
// and moments live in the buffers their new values were computed in, so from one step to the next
// they alternate between buffers, and the step's bind groups with them. A step that is replayed
// (step_replay.ts) must read and write the same buffers every time; so on webgpu the new value is
// copied into the variable's own buffer (one copyBufferToBuffer in the step's command stream, after
// every kernel that read the old value) and x is freed. Same bits as assign; a copy of the
// parameters and moments per step (3·P floats) costs nothing next to the step.
import * as tf from '@tensorflow/tfjs';

declare const GPUBuffer: abstract new () => object;

interface TensorData {
  resource: unknown;
  refCount: number;
  /** tfjs's CPU copy of the values, kept after a read (data()); stale once the buffer is written. */
  values: unknown;
}
interface WebgpuInternals {
  tensorMap: { get(id: object): TensorData | undefined };
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: { copyBufferToBuffer(src: unknown, so: number, dst: unknown, dOff: number, size: number): void } | null;
  endComputePassEncoder(): void;
  ensureCommandEncoderReady(): void;
}

/** v ← x, x disposed. On webgpu x's values are copied into v's buffer when v owns one alone. */
export function assignInPlace(v: tf.Variable, x: tf.Tensor): void {
  if (tf.getBackend() === 'webgpu' && x.dtype === v.dtype && tf.util.arraysEqual(x.shape, v.shape)) {
    const be = tf.backend() as unknown as WebgpuInternals;
    const dst = be.tensorMap.get(v.dataId);
    const src = be.tensorMap.get(x.dataId);
    // refCount 1: no other tensor (a reshape of v) shares the buffer and would see the new values.
    if (dst !== undefined && src !== undefined && dst.refCount === 1 && dst.resource instanceof GPUBuffer && src.resource instanceof GPUBuffer && dst.resource !== src.resource) {
      be.endComputePassEncoder();
      be.ensureCommandEncoderReady();
      be.commandEncoder!.copyBufferToBuffer(src.resource, 0, dst.resource, 0, 4 * x.size);
      // A read of v (a checkpoint) left its values cached on the CPU, which the next read would return.
      dst.values = null;
      // Neither buffer may be reused before this copy is submitted (tfjs defers their release).
      be.commandQueueOwnedIds.add(x.dataId);
      be.commandQueueOwnedIds.add(v.dataId);
      x.dispose();
      return;
    }
  }
  v.assign(x);
  x.dispose();
}
