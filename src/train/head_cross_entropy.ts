// Cross-entropy through the LM head without its full logits: a "fused linear cross-entropy".
// At the MQAR-128 bench shape every position is labelled, so one replica's logits are
// [32768, 8192] = 1 GiB, and a stack of 4 replicas' [4, 32768, 8192] = 4 GiB is over WebGPU's
// 2 GiB per-binding limit (and PyTorch would hold 4 GiB plus its gradient). Here, per row chunk c,
//   forward    z_c = h_c·W (batched over replicas), (loss, lse) = CE(z_c); z_c is dropped
//   backward   z_c again, ∂z_c = (softmax(z_c) − onehot(y_c)) · g_c   (g_c: dy_r / units_r per row)
//              ∂h_c = ∂z_c·Wᵀ,   ∂W += h_cᵀ·∂z_c
// so the step holds one chunk of logits and one of their gradient, for a third more head FLOPs
// (the recomputed forward). The same trade as Liger-Kernel's fused linear cross-entropy.
// Evaluation reads the argmax of each row from the same chunks (headPredictions).
import * as tf from '@tensorflow/tfjs';
import { kernelOnBackend } from '../backend/kernels/index.js';
import { derived } from '../backend/host_inputs.js';
import { headLogitsMaxBytes } from '../backend/logits_limit.js';
import { replicaMatMul } from '../layers/replicas.js';
import type { HeadRows } from '../models/types.js';
import { CE_BWD, CE_FWD } from './cross_entropy_webgpu.js';

function fusedKernels(): boolean {
  return kernelOnBackend(CE_FWD);
}

/** (loss, lse) per row of z [N, V]: the webgpu kernel, or tfjs ops elsewhere. */
function rowLossLse(z: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor2D {
  if (fusedKernels()) return tf.engine().runKernel(CE_FWD, { z, y }) as tf.Tensor2D;
  const [N, V] = z.shape;
  const lse = tf.logSumExp(z, -1);
  const picked = tf.gather(tf.reshape(z, [-1]), tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), y));
  return tf.stack([tf.sub(lse, picked), lse], 1) as tf.Tensor2D;
}

/** ∂z [N, V] = g_n · (softmax(z_n) − onehot(y_n)), with lse from rowLossLse's s [N, 2]. */
function rowGrad(z: tf.Tensor2D, y: tf.Tensor1D, s: tf.Tensor2D, g: tf.Tensor1D): tf.Tensor2D {
  if (fusedKernels()) return tf.engine().runKernel(CE_BWD, { z, y, s, g }) as tf.Tensor2D;
  const [N, V] = z.shape;
  const lse = tf.slice(s, [0, 1], [N, 1]);
  return tf.mul(tf.sub(tf.exp(tf.sub(z, lse)), tf.oneHot(y, V)), tf.reshape(g, [N, 1])) as tf.Tensor2D;
}

/** Rows per replica in one chunk: R·chunk·V float32 logits within maxBytes (at least one row). */
function rowsPerChunk(R: number, n: number, V: number, maxBytes: number): number {
  return Math.max(1, Math.min(n, Math.floor(maxBytes / (R * V * 4))));
}

const classesOf = (h: HeadRows): number => (h.transposed ? h.weight.shape[1] : h.weight.shape[2]);

/**
 * Each replica's mean cross-entropy [R] of the head rows h.rows through h.weight, with the
 * gradients of both; never more than `maxBytes` of logits at once.
 */
export function headCrossEntropy(h: HeadRows, maxBytes = headLogitsMaxBytes()): tf.Tensor1D {
  const [R, n, d] = h.rows.shape;
  const V = classesOf(h);
  const chunk = rowsPerChunk(R, n, V, maxBytes);
  // Per padded row: its weight in its replica's mean (0 on padding) [R·n], then each chunk's targets
  // (0 on padding) [R·c]. replicaUnits are the same in a replayed step (lm.ts guards them).
  const [wPad, ...ys] = derived((targets) => {
    const yPad = new Int32Array(R * n);
    const wPad = new Float32Array(R * n);
    let i = 0;
    for (let r = 0; r < R; r++) {
      const u = h.replicaUnits[r]!;
      for (let j = 0; j < u; j++) {
        yPad[r * n + j] = targets[i + j]!;
        wPad[r * n + j] = 1 / u;
      }
      i += u;
    }
    if (i !== targets.length) throw new Error(`internal: head rows hold ${i} units for ${targets.length} targets`);
    const ys: Int32Array[] = [];
    for (let from = 0; from < n; from += chunk) {
      const c = Math.min(chunk, n - from);
      const y = new Int32Array(R * c);
      for (let r = 0; r < R; r++) y.set(yPad.subarray(r * n + from, r * n + from + c), r * c);
      ys.push(y);
    }
    return [wPad, ...ys];
  }, h.targets);
  const chunks: { from: number; c: number; y: tf.Tensor1D }[] = ys.map((y, k) => ({ from: k * chunk, c: Math.min(chunk, n - k * chunk), y: tf.tensor1d(y as Int32Array, 'int32') }));
  const weights = tf.tensor2d(wPad as Float32Array, [R, n]);
  // A chunk's rows [R, c, d], and its logits z_c [R·c, V] = rows × W.
  const chunkRows = (rows: tf.Tensor3D, from: number, c: number): tf.Tensor3D => tf.slice(rows, [0, from, 0], [R, c, d]);
  const logits = (hc: tf.Tensor3D, w: tf.Tensor3D, c: number): tf.Tensor2D => tf.reshape(tf.matMul(hc, w, false, h.transposed), [R * c, V]) as tf.Tensor2D;
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const rows = args[0] as tf.Tensor3D;
    const w = args[1] as tf.Tensor3D;
    // (loss, lse) of each chunk, [R, c, 2]; the chunk's logits die inside its tidy.
    const parts = chunks.map(({ from, c, y }) => tf.tidy(() => tf.reshape(rowLossLse(logits(chunkRows(rows, from, c), w, c), y), [R, c, 2])));
    const s = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
    if (parts.length > 1) tf.dispose(parts);
    // Everything the backward pass reads is saved: the loss closure's own tensors (targets, row
    // weights) are disposed when the forward pass's scope ends.
    (args[2] as tf.GradSaveFunc)([rows, w, s, weights, ...chunks.map((ch) => ch.y)]);
    const loss = tf.reshape(tf.slice(s, [0, 0, 0], [R, n, 1]), [R, n]);
    return {
      value: tf.sum(tf.mul(loss, weights), 1) as tf.Tensor1D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sr, sw, ss, sWeights, ...ys] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor2D, ...tf.Tensor1D[]];
        const g = tf.mul(tf.reshape(dy, [R, 1]), sWeights); // [R, n]: dℓ_r/dloss_{r,j}
        let dW: tf.Tensor3D | undefined;
        const dRows: tf.Tensor3D[] = [];
        for (const [k, { from, c }] of chunks.entries()) {
          const y = ys[k]!;
          const [dr, dw] = tf.tidy(() => {
            const hc = chunkRows(sr, from, c);
            const z = logits(hc, sw, c);
            const sc = tf.reshape(tf.slice(ss, [0, from, 0], [R, c, 2]), [R * c, 2]) as tf.Tensor2D;
            const gc = tf.reshape(tf.slice(g, [0, from], [R, c]), [R * c]) as tf.Tensor1D;
            const dz = tf.reshape(rowGrad(z, y, sc, gc), [R, c, V]) as tf.Tensor3D;
            // W [R, d, V]: ∂h = ∂z·Wᵀ, ∂W = hᵀ·∂z.  W [R, V, d]: ∂h = ∂z·W, ∂W = ∂zᵀ·h.
            const dRow = tf.matMul(dz, sw, false, !h.transposed) as tf.Tensor3D;
            const dWc = (h.transposed ? tf.matMul(dz, hc, true, false) : tf.matMul(hc, dz, true, false)) as tf.Tensor3D;
            return [dRow, dW === undefined ? dWc : (tf.add(dW, dWc) as tf.Tensor3D)];
          });
          dW?.dispose();
          dW = dw;
          dRows.push(dr);
        }
        g.dispose();
        const dRowsAll = dRows.length === 1 ? dRows[0]! : tf.concat(dRows, 1);
        if (dRows.length > 1) tf.dispose(dRows);
        return [dRowsAll, dW!];
      },
    };
  });
  return run(h.rows, h.weight) as tf.Tensor1D;
}

/**
 * The argmax class of every real row of h (int32 [Σ replicaUnits], replica-major as h.targets;
 * padding rows dropped), as tf.argMax of the whole logits gives it: the rows are chunked as in
 * headCrossEntropy, so never more than `maxBytes` of logits at once. No gradient (evaluation).
 */
export function headPredictions(h: HeadRows, maxBytes = headLogitsMaxBytes()): tf.Tensor1D {
  const [R, n, d] = h.rows.shape;
  const chunk = rowsPerChunk(R, n, classesOf(h), maxBytes);
  return tf.tidy(() => {
    // Each chunk's argmax [R, c]; its logits [R, c, V] die in the inner tidy. The product is the
    // plain path's (lm.ts project: replicaMatMul), so ties break as they would there.
    const parts: tf.Tensor2D[] = [];
    for (let from = 0; from < n; from += chunk) {
      const c = Math.min(chunk, n - from);
      parts.push(tf.tidy(() => tf.argMax(replicaMatMul(tf.slice(h.rows, [0, from, 0], [R, c, d]), h.weight, h.transposed), -1) as tf.Tensor2D));
    }
    if (parts.length === 0) return tf.tensor1d([], 'int32');
    const all = tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts, 1), [R * n]) as tf.Tensor1D;
    if (h.replicaUnits.every((u) => u === n)) return all;
    // Row j of replica r sits at r·n + j; rows j ≥ replicaUnits[r] are padding.
    const keep = Int32Array.from(h.replicaUnits.flatMap((u, r) => Array.from({ length: u }, (_, j) => r * n + j)));
    return tf.gather(all, tf.tensor1d(keep, 'int32')) as tf.Tensor1D;
  });
}
