// Gradients that tfjs 4.22 registers in ways that cost launches or uploads on webgpu, re-registered
// for every backend (initBackend), found with `node --cpu-prof` on the H100:
//  - Sum and Mean multiply dy by `ones(x.shape)`, which tfjs-core builds as a typed array on the
//    CPU and uploads: a full activation-sized upload per norm/reduction per step (with the upload
//    path, 34% of host time at MetaLA d=256, 4 layers, B=32, T=512). Here dy is broadcast on the
//    device: the same values, bit for bit.
//  - Tile (and tf.broadcastTo, which runs as Tile) adds one slice of dy per repetition; here it is
//    one sum.
//  - Multiply casts each saved operand to float32 before multiplying dy by it, a Cast kernel call
//    (engine bookkeeping, no GPU work) per operand even when it is float32 already: 34 of the 565
//    kernel calls of an MQAR-128 training step. Here the cast happens only for other dtypes.
import * as tf from '@tensorflow/tfjs';
import { broadcastToFast } from './broadcast.js';

function expandedDy(dy: tf.Tensor, xShape: number[], axis: unknown): tf.Tensor {
  const shape = xShape.slice();
  const axes = tf.util.parseAxisParam(axis as number | number[], xShape);
  for (const a of axes) shape[a] = 1;
  return tf.reshape(dy, shape);
}

/**
 * Gradient of Tile (and so of tf.broadcastTo, which runs as Tile) as one reduction. tfjs-core's
 * adds one slice of dy per repetition: broadcasting Mamba's B_t, C_t [B,T,1,N] over d_inner = 256
 * channels costs 512 kernel launches per tensor per layer in the backward pass. Here dy
 * [r0·s0, r1·s1, …] is viewed as [r0, s0, r1, s1, …] (repetition outer, as Tile lays it out),
 * size-1 axes dropped and neighbouring axes of the same kind merged, and summed over the
 * repetition axes. Same sum, different order of float additions.
 */
export function tileGradient(dy: tf.Tensor, xShape: readonly number[], reps: readonly number[]): tf.Tensor {
  const dims: { size: number; rep: boolean }[] = [];
  xShape.forEach((s, i) => {
    for (const d of [{ size: reps[i]!, rep: true }, { size: s, rep: false }]) {
      if (d.size === 1) continue;
      const last = dims[dims.length - 1];
      if (last !== undefined && last.rep === d.rep) last.size *= d.size;
      else dims.push({ ...d });
    }
  });
  const axes = dims.flatMap((d, i) => (d.rep ? [i] : []));
  if (axes.length === 0) return tf.reshape(dy, xShape as number[]);
  return tf.reshape(tf.sum(tf.reshape(dy, dims.map((d) => d.size)), axes), xShape as number[]);
}

/** ∂(a·b)/∂a = dy·b, summed over the axes a was broadcast along (tfjs's Multiply gradient, minus float32→float32 casts). */
function mulGradient(dy: tf.Tensor, other: tf.Tensor, shape: number[], outShape: number[]): tf.Tensor {
  const res = tf.mul(dy, other.dtype === 'float32' ? other : tf.cast(other, 'float32'));
  const axes = tf.backend_util.getReductionAxes(shape, outShape);
  return axes.length > 0 ? tf.reshape(tf.sum(res, axes), shape) : res;
}

/**
 * Gradients of Sum and Mean that never materialise ones on the CPU, of Tile as one reduction, and
 * of Multiply without float32 casts (any backend; Sum, Mean and Multiply give the same numbers,
 * Tile the same sum).
 */
export function registerGradientFixes(): void {
  tf.registerGradient({
    kernelName: 'Multiply',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      return { a: () => mulGradient(dy as tf.Tensor, b, a.shape, outShape), b: () => mulGradient(dy as tf.Tensor, a, b.shape, outShape) };
    },
  });
  tf.registerGradient({
    kernelName: 'Tile',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tileGradient(dy as tf.Tensor, x.shape, attrs['reps'] as number[]) };
    },
  });
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => broadcastToFast(expandedDy(dy as tf.Tensor, x.shape, attrs['axis']), x.shape) };
    },
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const axes = tf.util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
      const reduceSize = axes.reduce((n, a) => n * x.shape[a]!, 1);
      return { x: () => tf.div(broadcastToFast(expandedDy(dy as tf.Tensor, x.shape, attrs['axis']), x.shape), reduceSize) };
    },
  });
}
