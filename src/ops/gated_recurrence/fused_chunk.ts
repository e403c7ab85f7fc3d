// 'fused' form of the gated recurrence through the chunkwise kernels
// (src/ops/gated_recurrence/webgpu_chunk.ts): two launches forward (chunk states, then outputs), two
// backward (state gradients, then dq, dk, dg, dv), joined to autodiff with tf.customGrad. Same
// signature and results as glaFused (the sequential kernels); index.ts picks between them.
//
// The forward keeps its chunk states and in-chunk cumulative decay b ([S_0 .. S_N | b], about one
// extra [B,T,H,K]-sized tensor when V = C = 64) for the backward pass instead of recomputing them.
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../../backend/kernels/index.js';
import { bwdSplit, GLA_CHUNK_BWD, GLA_CHUNK_BWD_DQK, GLA_CHUNK_BWD_DV, GLA_CHUNK_BWD_H, GLA_CHUNK_FWD_H, GLA_CHUNK_FWD_O, GLA_CHUNK_WORKGROUP_BYTES } from './webgpu_chunk.js';
import type { GlaChunkDims } from './webgpu_chunk.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/** The device's workgroup-memory limit (bytes), or 0 when the backend is not webgpu. */
function workgroupStorageLimit(): number {
  const be = tf.backend() as unknown as { device?: { limits?: { maxComputeWorkgroupStorageSize?: number } } };
  return be.device?.limits?.maxComputeWorkgroupStorageSize ?? 0;
}

/**
 * True when the chunk kernels are registered on the current backend (webgpu after initBackend) and
 * the device gives them the workgroup memory they declare (WebGPU guarantees only 16 KiB).
 */
export function glaFusedChunkAvailable(): boolean {
  return kernelOnBackend(GLA_CHUNK_FWD_H) && workgroupStorageLimit() >= GLA_CHUNK_WORKGROUP_BYTES;
}

/**
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H,K] per-channel log decay (≤ 0)
 * @returns o [B,T,H,V] and finalState [B,H,K,V] when opts.wantState
 */
export function glaFusedChunk(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: ResolvedOptions): RecurrenceResult {
  if (!glaFusedChunkAvailable()) {
    throw new Error(`gla: the chunk kernels need the webgpu backend and ${GLA_CHUNK_WORKGROUP_BYTES} bytes of workgroup memory (backend ${tf.getBackend()}, limit ${workgroupStorageLimit()})`);
  }
  const [B, T, H, K] = q.shape;
  const V = v.shape[3];
  const hasH0 = opts.initialState !== undefined;
  const hasFinal = opts.wantState;
  const dims: GlaChunkDims = { B, T, H, K, V, scale: opts.scale, hasFinal, hasH0 };
  const nO = B * T * H * V;
  const nS = B * H * K * V;
  const nK = B * T * H * K;
  const engine = tf.engine();
  // The custom-gradient value is o (training) or [o | final state] flattened (wantState), as the
  // output kernel writes it, so the backward kernels read d_o and d_final straight from dy.
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const n = hasH0 ? 5 : 4;
    const [qq, kk, vv, gg, h0] = args.slice(0, n) as tf.Tensor[];
    const save = args[n] as tf.GradSaveFunc;
    const hb = engine.runKernel(GLA_CHUNK_FWD_H, hasH0 ? { k: kk!, v: vv!, g: gg!, h0: h0! } : { k: kk!, v: vv!, g: gg! }, dims as never) as tf.Tensor1D;
    const value = engine.runKernel(GLA_CHUNK_FWD_O, { q: qq!, k: kk!, v: vv!, hb }, dims as never) as tf.Tensor1D;
    save([qq!, kk!, vv!, hb]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, shb] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const dh = engine.runKernel(GLA_CHUNK_BWD_H, { q: sq, hb: shb, dy }, dims as never) as tf.Tensor1D;
        const inputs = { q: sq, k: sk, v: sv, hb: shb, dh, dy };
        // [dq | dk | dg] and dv: two launches (METALA_GLA_BWD=split), or views of one [dq | dk | dg | dv]
        let qk: tf.Tensor1D;
        let dv: tf.Tensor1D;
        if (bwdSplit()) {
          qk = engine.runKernel(GLA_CHUNK_BWD_DQK, inputs, dims as never) as tf.Tensor1D;
          dv = engine.runKernel(GLA_CHUNK_BWD_DV, inputs, dims as never) as tf.Tensor1D;
        } else {
          qk = engine.runKernel(GLA_CHUNK_BWD, inputs, dims as never) as tf.Tensor1D;
          dv = qk.slice(3 * nK, nO);
        }
        const out = [qk.slice(0, nK).reshape([B, T, H, K]), qk.slice(nK, nK).reshape([B, T, H, K]), dv.reshape([B, T, H, V]), qk.slice(2 * nK, nK).reshape([B, T, H, K])];
        // dS_0 (the n = 0 set of the state gradients) is dh0
        if (hasH0) out.push(dh.slice(0, nS).reshape([B, H, K, V]));
        return out;
      },
    };
  });
  return tf.tidy(() => {
    const flat = (hasH0 ? run(q, k, v, g, opts.initialState!) : run(q, k, v, g)) as tf.Tensor1D;
    if (!hasFinal) return { o: flat.reshape([B, T, H, V]) as tf.Tensor4D };
    return { o: flat.slice(0, nO).reshape([B, T, H, V]) as tf.Tensor4D, finalState: flat.slice(nO, nS).reshape([B, H, K, V]) as tf.Tensor4D };
  });
}
