// Scalar-decay linear attention, chunkwise: intra-chunk (Q Kᵀ ⊙ Γ) V for all chunks at once plus
// inter-chunk state passing (fla `chunk_simple_gla`, reference-implementations.md §1.4). With a
// scalar decay the decay matrix Γ is [C,C] per chunk, so larger chunks are cheap.
import * as tf from '@tensorflow/tfjs';
import { passStates } from '../common/state_pass.js';
import { bmm, decayMatrixScalar, expandLast, fromChunks, lastRow, prefixSum, toChunks } from '../common/tensor.js';
import type { RecurrenceResult, ResolvedOptions } from '../common/types.js';

/**
 * Chunkwise form, chunk length C = opts.chunkSize (T zero-padded; g = 0, k = v = q = 0 is a no-op).
 * Per chunk with incoming state S_n and in-chunk cumsum b_i:
 *   o_i     = scale · [ exp(b_i) q_i S_n + Σ_{j≤i} exp(b_i − b_j) (q_i·k_j) v_j ]
 *   S_{n+1} = exp(b_C) S_n + Σ_j exp(b_C − b_j) k_jᵀ v_j
 * @param q [B,T,H,K]
 * @param k [B,T,H,K]
 * @param v [B,T,H,V]
 * @param g [B,T,H] per-head log decay (≤ 0)
 */
export function simpleGlaChunk(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: tf.Tensor3D, opts: ResolvedOptions): RecurrenceResult {
  return tf.tidy(() => {
    const [b, t, h, dk] = q.shape;
    const dv = v.shape[3];
    const c = opts.chunkSize;
    const n = Math.ceil(t / c);
    const bh = b * h;
    const m = bh * n;
    const [q3, k3, v3] = [toChunks(q, c), toChunks(k, c), toChunks(v, c)]; // [M, C, *]
    const cum = prefixSum(toChunks(expandLast(g), c)); // in-chunk b_i: [M, C, 1]

    const att = tf.mul(bmm(q3, k3, false, true), decayMatrixScalar(cum)); // [M, C, C]
    const intra = bmm(att, v3); // [M, C, V]

    const bLast = lastRow(cum); // [M, 1, 1]
    const kDecayed = tf.mul(k3, tf.exp(tf.sub(bLast, cum)));
    const writes = tf.reshape(bmm(kDecayed, v3, true, false), [n, bh, dk, dv]);

    // Sequential over chunks only: S_{n+1} = exp(b_C) S_n + writes_n (loop, or a log-depth scan).
    const s0 = opts.initialState === undefined ? undefined : tf.reshape(opts.initialState, [bh, dk, dv]);
    const passed = passStates(writes, tf.reshape(bLast, [n, bh, 1, 1]), s0, opts.statePass, opts.wantState);
    const states = tf.reshape(passed.entering, [m, dk, dv]);
    const inter = tf.mul(tf.exp(cum), bmm(q3, states)); // exp(b_i) q_i S_n
    const o3: tf.Tensor3D = tf.mul(tf.add(inter, intra), opts.scale);
    const o = fromChunks(o3, b, h, t);
    return passed.final === undefined ? { o } : { o, finalState: tf.reshape(passed.final, [b, h, dk, dv]) as tf.Tensor4D };
  });
}
