// RWKV-4 WKV, step-by-step reference with the running-max state (a, b, p) of the official CUDA
// kernel / `rwkv_linear_attention` (BlinkDL/RWKV-LM RWKV-v4, fla `fused_recurrent_rwkv4`):
//   wkv_t = (e^{p−q} a + e^{u+k_t−q} v_t) / (e^{p−q} b + e^{u+k_t−q}),  q = max(p, u + k_t)
//   p' = max(p − w, k_t),  a' = e^{p−w−p'} a + e^{k_t−p'} v_t,  b' = e^{p−w−p'} b + e^{k_t−p'}
import * as tf from '@tensorflow/tfjs';
import { stackSafe, unstackSafe } from '../common/tensor.js';
import type { RecurrenceResult } from '../common/types.js';
import { initialRwkv4State, type Rwkv4Resolved } from './state.js';

/**
 * One loop over t (the oracle for the chunk form).
 * @param k [B,T,D] keys (log weights; any size: the running max keeps every exp ≤ 1)
 * @param v [B,T,D] values
 * @param w [D] decay rate > 0 (the state is multiplied by e^{−w} per step)
 * @param u [D] bonus of the current token
 */
export function rwkv4Naive(k: tf.Tensor3D, v: tf.Tensor3D, w: tf.Tensor1D, u: tf.Tensor1D, opts: Rwkv4Resolved): RecurrenceResult<tf.Tensor3D, tf.Tensor3D> {
  return tf.tidy(() => {
    const [b, , d] = k.shape;
    const ks = unstackSafe<tf.Tensor2D>(k, 1);
    const vs = unstackSafe<tf.Tensor2D>(v, 1);
    const w2 = tf.reshape(w, [1, d]);
    const u2 = tf.reshape(u, [1, d]);
    let { a, b: den, p } = initialRwkv4State(b, d, opts.initialState);
    const os: tf.Tensor2D[] = [];
    ks.forEach((kt, t) => {
      const vt = vs[t]!;
      // output: the carried sums plus the current token with its bonus u
      const uk = tf.add(u2, kt);
      const q = tf.maximum(p, uk);
      const e1 = tf.exp(tf.sub(p, q));
      const e2 = tf.exp(tf.sub(uk, q));
      os.push(tf.div(tf.add(tf.mul(e1, a), tf.mul(e2, vt)), tf.add(tf.mul(e1, den), e2)));
      // state: decay by e^{−w}, then add the current token without bonus
      const pw = tf.sub(p, w2);
      const p2 = tf.maximum(pw, kt) as tf.Tensor2D;
      const f1 = tf.exp(tf.sub(pw, p2));
      const f2 = tf.exp(tf.sub(kt, p2));
      a = tf.add(tf.mul(f1, a), tf.mul(f2, vt));
      den = tf.add(tf.mul(f1, den), f2);
      p = p2;
    });
    const o = stackSafe<tf.Tensor3D>(os, 1);
    return opts.wantState ? { o, finalState: tf.stack([a, den, p], 1) as tf.Tensor3D } : { o };
  });
}
