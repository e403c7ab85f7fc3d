// 'fused' form of RWKV-4's WKV: one webgpu kernel forward, one backward
// (src/ops/rwkv4/webgpu.ts), joined to autodiff with tf.customGrad. Training form: no
// initial state in, no final state out (the op's default picks it only then).
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../../backend/kernels/index.js';
import { RWKV4_BWD, RWKV4_FWD } from './webgpu.js';
import type { RecurrenceResult } from '../common/types.js';
import type { Rwkv4Resolved } from './state.js';

/** True when the current backend has the fused WKV kernels (webgpu after initBackend). */
export function rwkv4FusedAvailable(): boolean {
  return kernelOnBackend(RWKV4_FWD);
}

/**
 * @param k, v [B,T,D]; w, u [D] (as rwkv4Naive)
 * @returns o [B,T,D]; never a final state
 */
export function rwkv4Fused(k: tf.Tensor3D, v: tf.Tensor3D, w: tf.Tensor1D, u: tf.Tensor1D, opts: Rwkv4Resolved): RecurrenceResult<tf.Tensor3D, tf.Tensor3D> {
  if (!rwkv4FusedAvailable()) throw new Error(`rwkv4: form 'fused' needs the webgpu backend (current: ${tf.getBackend()}); use 'chunk'`);
  if (opts.initialState !== undefined || opts.wantState) throw new Error("rwkv4: form 'fused' takes no initial state and returns no final state; use 'chunk' for those");
  const [B, T, D] = k.shape;
  const n = B * T * D;
  const dims = { B, T, D };
  const engine = tf.engine();
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [kk, vv, ww, uu] = args as tf.Tensor[];
    const save = args[4] as tf.GradSaveFunc;
    // [wkv | a_t | b_t | p_t]: the states are kept for the backward pass.
    const fwd = engine.runKernel(RWKV4_FWD, { k: kk!, v: vv!, w: ww!, u: uu! }, dims as never) as tf.Tensor1D;
    save([kk!, vv!, ww!, uu!, fwd]);
    return {
      value: fwd.slice(0, n).reshape([B, T, D]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sk, sv, sw, su, sf] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const g = engine.runKernel(RWKV4_BWD, { k: sk, v: sv, w: sw, u: su, fwd: sf, dy }, dims as never) as tf.Tensor1D;
        const perBatch = (off: number): tf.Tensor => tf.sum(g.slice(off, B * D).reshape([B, D]), 0);
        return [g.slice(0, n).reshape([B, T, D]), g.slice(n, n).reshape([B, T, D]), perBatch(2 * n), perBatch(2 * n + B * D)];
      },
    };
  });
  return { o: run(k, v, w, u) as tf.Tensor3D };
}
