// Causal depthwise short convolution (MetaLA's Conv1d before the projections; paper Eq. A31,
// official code: nn.Conv1d(d, d, c, groups=d, bias=False) via causal_conv1d_fn).
// Computed as pad + slice + multiply-add: conv1d weight gradients are missing on wasm and this
// form is differentiable on every backend (tfjs-in-node.md §0). On webgpu the taps run as one fused
// kernel forward and two backward (src/layers/short_conv_webgpu.ts) instead of one per tap and op.
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../backend/kernels/index.js';
import { CONV_DW, CONV_DXP, CONV_FWD, convBlocks } from './short_conv_webgpu.js';
import { channelsToReplicas, replicasToChannels, stackedChannels } from './replicas.js';

function fusedAvailable(): boolean {
  return kernelOnBackend(CONV_FWD);
}

/** y from xp [B, c−1+T, D] and w [c, D] through the fused kernels, with their gradients. */
function fusedTaps(xp: tf.Tensor3D, w: tf.Tensor2D, T: number): tf.Tensor3D {
  const [B, , D] = xp.shape;
  const C = w.shape[0];
  const dims = { B, T, D, C };
  const engine = tf.engine();
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, ww] = args as tf.Tensor[];
    (args[2] as tf.GradSaveFunc)([x!, ww!]);
    return {
      value: engine.runKernel(CONV_FWD, { xp: x!, w: ww! }, dims as never) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor, tf.Tensor];
        const dxp = (engine.runKernel(CONV_DXP, { w: sw, dy }, dims as never) as tf.Tensor).reshape([B, T + C - 1, D]);
        const nb = convBlocks(dims);
        const parts = (engine.runKernel(CONV_DW, { xp: sx, dy }, dims as never) as tf.Tensor).reshape([C, D, nb]);
        return [dxp, nb === 1 ? parts.reshape([C, D]) : tf.sum(parts, 2)];
      },
    };
  });
  return (run(xp, w) as tf.Tensor).reshape([B, T, D]) as tf.Tensor3D;
}

/**
 * y_t[i] = Σ_{j=0..c−1} w[j, i] · x_{t−(c−1)+j}[i]  (the last tap multiplies the current token).
 * @param x     input [B, T, D]
 * @param w     taps [c, D] (file layout `[D, 1, c]`), or [R, c, D] for stacked replicas (x then [R·B, T, D])
 * @param cache the previous c−1 inputs [B, c−1, D] (decode / continued prefill); zeros if absent
 * @param fused use the webgpu kernels (default: where they are registered); false = the tfjs ops
 * @returns y [B, T, D] and the new cache (last c−1 inputs, for the next call)
 */
export function causalConv1d(x: tf.Tensor3D, taps: tf.Tensor, cache?: tf.Tensor3D, fused = fusedAvailable()): { y: tf.Tensor3D; cache: tf.Tensor3D } {
  if (taps.rank === 3) {
    // Stacked replicas (train.stack): taps [R, c, D]; every replica runs as R·D channels of one conv.
    const R = taps.shape[0];
    const r = causalConv1d(replicasToChannels(x, R), stackedChannels(taps as tf.Tensor3D), cache && replicasToChannels(cache, R), fused);
    return { y: channelsToReplicas(r.y, R), cache: channelsToReplicas(r.cache, R) };
  }
  const w = taps as tf.Tensor2D;
  const [B, T, D] = x.shape;
  const c = w.shape[0];
  if (c === 1) return { y: tf.mul(x, w) as tf.Tensor3D, cache: tf.zeros([B, 0, D]) };
  const past = cache ?? (tf.zeros([B, c - 1, D]) as tf.Tensor3D);
  const xp = tf.concat([past, x], 1) as tf.Tensor3D; // [B, c−1+T, D]
  const newCache = tf.slice(xp, [0, T, 0], [B, c - 1, D]) as tf.Tensor3D;
  if (fused) return { y: fusedTaps(xp, w, T), cache: newCache };
  let y: tf.Tensor | undefined;
  for (let j = 0; j < c; j++) {
    const tap = tf.mul(tf.slice(xp, [0, j, 0], [B, T, D]), tf.slice(w, [j, 0], [1, D]));
    y = y === undefined ? tap : tf.add(y, tap);
  }
  return { y: y as tf.Tensor3D, cache: newCache };
}
