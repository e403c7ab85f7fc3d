// 'fused' form of the gated recurrence: one backend kernel for the forward pass and two for the
// backward pass (src/ops/gated_recurrence/webgpu_recurrent.ts), joined to autodiff with tf.customGrad.
//
// Gradient of the log decay g (per channel i; G_t = Σ_{u≤t} g_u):
//   S_t[i,:] = e^{G_t[i]} h0[i,:] + Σ_{s≤t} e^{G_t[i]−G_s[i]} k_s[i] v_s
// G_t enters with + through every query-side use of S_t (o_t and the final state) and with − as
// the key-side exponent of step t, so ∂L/∂G_t = q_t ⊙ dq_t − k_t ⊙ dk_t (+ Σ_j dS_T ⊙ S_T at t = T),
// and dg_u = Σ_{t≥u} ∂L/∂G_t: a reverse cumulative sum, computed inside the row kernel.
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../../backend/kernels/index.js';
import { GLA_BWD_COLS, GLA_BWD_ROWS, GLA_FWD, glaSplits } from './webgpu_recurrent.js';
import { SUM_BLOCKS } from '../../backend/kernels/sum_blocks_webgpu.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/** True when the current backend has the fused gla kernels (webgpu after initBackend). */
/** True when the current backend has the fused gla kernels (webgpu after initBackend). */
export function glaFusedAvailable(): boolean {
  return kernelOnBackend(GLA_FWD);
}

/** Partial sums laid out [n, blocks] → [n] (no kernel when there is one block). */
function sumBlocks(flat: tf.Tensor1D, offset: number, n: number, blocks: number): tf.Tensor1D {
  if (blocks === 1) return flat.slice(offset, n);
  return tf.engine().runKernel(SUM_BLOCKS, { x: flat }, { n, blocks, offset: offset * blocks } as never) as tf.Tensor1D;
}

/**
 * @param splits block counts of the kernels (default glaSplits: by shape); tests force them so
 *   small shapes exercise the split paths too.
 */
export function glaFused(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor4D, opts: ResolvedOptions, splits?: { kb: number; vb: number }): RecurrenceResult {
  if (!glaFusedAvailable()) throw new Error(`gla: form 'fused' needs the webgpu backend (current: ${tf.getBackend()}); use 'chunk'`);
  const [B, T, H, K] = q.shape;
  const V = v.shape[3];
  const { kb, vb } = splits ?? glaSplits(B, T, H, K, V);
  if (K % kb !== 0 || V % vb !== 0) throw new Error(`gla fused: splits kb=${kb}, vb=${vb} must divide K=${K}, V=${V}`);
  const hasFinal = opts.wantState;
  const dims = { B, T, H, K, V, scale: opts.scale, kb, vb, hasFinal };
  const nO = B * T * H * V;
  const nS = B * H * K * V;
  const nK = B * T * H * K;
  const engine = tf.engine();
  // The custom-gradient value is o (training) or [o | final state] flattened (wantState), so the
  // backward kernels read d_o and d_final straight from dy.
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qq, kk, vv, gg, h0] = args as tf.Tensor[];
    const save = args[5] as tf.GradSaveFunc;
    save([qq!, kk!, vv!, gg!, h0!]);
    const flat = engine.runKernel(GLA_FWD, { q: qq!, k: kk!, v: vv!, g: gg!, h0: h0! }, dims as never) as tf.Tensor1D;
    const o = sumBlocks(flat, 0, nO, kb);
    const value = hasFinal ? tf.concat([o, flat.slice(kb * nO, nS)]) : o;
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sg, sh0] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const cols = engine.runKernel(GLA_BWD_COLS, { q: sq, k: sk, g: sg, dy }, dims as never) as tf.Tensor1D;
        const rows = sumBlocks(engine.runKernel(GLA_BWD_ROWS, { q: sq, k: sk, v: sv, g: sg, h0: sh0, dy }, dims as never) as tf.Tensor1D, 0, 3 * nK, vb);
        return [
          rows.slice(0, nK).reshape([B, T, H, K]),
          rows.slice(nK, nK).reshape([B, T, H, K]),
          sumBlocks(cols, 0, nO, kb).reshape([B, T, H, V]),
          rows.slice(2 * nK, nK).reshape([B, T, H, K]),
          cols.slice(kb * nO, nS).reshape([B, H, K, V]),
        ];
      },
    };
  });
  return tf.tidy(() => {
    const h0 = opts.initialState ?? tf.zeros([B, H, K, V]);
    const flat = run(q, k, v, g, h0) as tf.Tensor1D;
    if (!hasFinal) return { o: flat.reshape([B, T, H, V]) as tf.Tensor4D };
    return { o: flat.slice(0, nO).reshape([B, T, H, V]) as tf.Tensor4D, finalState: flat.slice(nO, nS).reshape([B, H, K, V]) as tf.Tensor4D };
  });
}
