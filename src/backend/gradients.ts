// Gradients that tfjs 4.22 registers in ways that cost launches or uploads on webgpu, re-registered
// for every backend (initBackend), found with `node --cpu-prof` on the H100:
//  - Sum and Mean multiply dy by `ones(x.shape)`, which tfjs-core builds as a typed array on the
//    CPU and uploads: a full activation-sized upload per norm/reduction per step (with the upload
//    path, 34% of host time at MetaLA d=256, 4 layers, B=32, T=512). Here dy is broadcast on the
//    device: the same values, bit for bit.
//  - Tile (and tf.broadcastTo, which runs as Tile) adds one slice of dy per repetition; here it is
//    one sum.
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

/**
 * Gradients of Sum and Mean that never materialise ones on the CPU, and of Tile as one reduction
 * (any backend; Sum and Mean give the same numbers, Tile the same sum).
 */
export function registerGradientFixes(): void {
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
