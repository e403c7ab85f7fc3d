// Tensor helpers shared by the recurrences: constant masks, the prefix sum as a lower-triangular
// matMul, masked decay matrices exp(b_i − b_j), the [B,T,H,D] <-> [N·B·H, C, D] chunk reshapes, and
// work-arounds for tfjs 4.22 (no tf.cumsum: wrong gradients / webgpu values, tfjs-in-node.md §2.5;
// unstack of size 1; wasm's O(n²) unstack; webgpu's 65535 matMul batch limit).
import * as tf from '@tensorflow/tfjs';
import { broadcastToFast } from '../../backend/broadcast.js';

/**
 * Additive log-space causal mask value. Added to an exponent before exp so that the (j > i) entries
 * become exp(−1e30) = 0 and their gradient exp(·)·dy = 0: no inf, no NaN in the backward pass.
 */
const MASKED = -1e30;

/** [n, n] float constant: 1 on and below the diagonal (or strictly below when `strict`), else 0. */
export function trilOnes(n: number, strict = false): tf.Tensor2D {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < (strict ? i : i + 1); j++) a[i * n + j] = 1;
  return tf.tensor2d(a, [n, n]);
}

/** [n, n] additive mask: 0 for j ≤ i, MASKED for j > i. */
export function causalLogMask(n: number): tf.Tensor2D {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = MASKED;
  return tf.tensor2d(a, [n, n]);
}

/** WebGPU's maximum dispatch size in Y/Z; tfjs-backend-webgpu puts a matMul's batch there. */
const MAX_MATMUL_BATCH = 65535;

/**
 * Batched matMul [n, ·, ·] × [n, ·, ·] that splits the batch into pieces of at most 65535:
 * tfjs-backend-webgpu throws "Dispatch size exceeds WebGPU limits in Y or Z dimension" beyond.
 */
export function bmm(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor3D {
  if (a.rank !== 3 || b.rank !== 3) throw new Error(`bmm: rank-3 operands expected, got [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  const n = a.shape[0] ?? 0;
  if (n <= MAX_MATMUL_BATCH) return tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, transposeA, transposeB);
  const parts: tf.Tensor3D[] = [];
  for (let s = 0; s < n; s += MAX_MATMUL_BATCH) {
    const k = Math.min(MAX_MATMUL_BATCH, n - s);
    parts.push(tf.matMul(tf.slice(a, [s, 0, 0], [k, -1, -1]), tf.slice(b, [s, 0, 0], [k, -1, -1]), transposeA, transposeB));
  }
  return tf.concat(parts, 0);
}

/**
 * Inclusive prefix sum along axis 1: x [M, C, F] → y with y[:, i] = Σ_{j≤i} x[:, j].
 * Done as matMul(tril(ones[C,C]), x); the constant is broadcast explicitly because the gradient of
 * a broadcasting matMul is broken in tfjs-core 4.22.
 */
export function prefixSum(x: tf.Tensor3D): tf.Tensor3D {
  const [m, c] = x.shape;
  return bmm(broadcastToFast(trilOnes(c), [m, c, c]) as tf.Tensor3D, x);
}

/**
 * Masked decay matrix for per-channel log decays: b [M, C, F] (cumulative, non-increasing) →
 * E [M, C, C, F] with E[:, i, j] = exp(b_i − b_j) for j ≤ i (always ≤ 1), 0 for j > i.
 * The mask is applied to the exponent BEFORE exp so the upper triangle never overflows.
 */
export function decayMatrixChannels(b: tf.Tensor3D): tf.Tensor4D {
  const [m, c, f] = b.shape;
  const diff = tf.sub(tf.reshape(b, [m, c, 1, f]), tf.reshape(b, [m, 1, c, f]));
  return tf.exp(tf.add(diff, tf.reshape(causalLogMask(c), [1, c, c, 1]))) as tf.Tensor4D;
}

/**
 * Masked decay matrix for a scalar log decay: b [M, C, 1] → Γ [M, C, C], Γ[:, i, j] = exp(b_i − b_j)
 * for j ≤ i, 0 above the diagonal.
 */
export function decayMatrixScalar(b: tf.Tensor3D): tf.Tensor3D {
  const [m, c] = b.shape;
  const diff = tf.sub(b, tf.reshape(b, [m, 1, c]));
  return tf.exp(tf.add(diff, tf.reshape(causalLogMask(c), [1, c, c]))) as tf.Tensor3D;
}

/** Zero-pad axis 1 (time) of x up to length `tp`. */
export function padTime<R extends tf.Rank>(x: tf.Tensor<R>, tp: number): tf.Tensor<R> {
  const t = x.shape[1] ?? 0;
  if (tp === t) return x;
  const pads = x.shape.map((_, i): [number, number] => (i === 1 ? [0, tp - t] : [0, 0]));
  return tf.pad(x, pads);
}

/**
 * [B, T, H, D] → [N·B·H, C, D] (N = ceil(T/C)), zero-padding T up to N·C. Chunk-major rows,
 * m = n·(B·H) + b·H + h: reshaping the leading axis to [N, B·H] and unstacking axis 0 walks chunks
 * in time order with contiguous slices (unstack on an inner axis is slow on wasm).
 */
export function toChunks(x: tf.Tensor4D, c: number): tf.Tensor3D {
  const [b, t, h, d] = x.shape;
  const n = Math.ceil(t / c);
  const xc = tf.reshape(padTime(x, n * c), [b, n, c, h, d]);
  return tf.reshape(tf.transpose(xc, [1, 0, 3, 2, 4]), [n * b * h, c, d]); // [N, B, H, C, D]
}

/** Inverse of toChunks: [N·B·H, C, D] → [B, T, H, D] (drops the padding). */
export function fromChunks(x: tf.Tensor3D, b: number, h: number, t: number): tf.Tensor4D {
  const [m, c, d] = x.shape;
  const n = m / (b * h);
  const y: tf.Tensor4D = tf.reshape(tf.transpose(tf.reshape(x, [n, b, h, c, d]), [1, 0, 3, 2, 4]), [b, n * c, h, d]);
  return n * c === t ? y : tf.slice(y, [0, 0, 0, 0], [b, t, h, d]);
}

/** Row C−1 of x [M, C, F] as [M, 1, F] (the last position of every chunk). */
export function lastRow(x: tf.Tensor3D): tf.Tensor3D {
  const [m, c, f] = x.shape;
  return tf.slice(x, [0, c - 1, 0], [m, 1, f]);
}

/** Scalar-per-head tensor [B, T, H] → [B, T, H, 1] so it can share the 4-D chunk helpers. */
export function expandLast(x: tf.Tensor3D): tf.Tensor4D {
  return tf.expandDims(x, 3) as tf.Tensor4D;
}

/** Above this many pieces, (un)stacking goes through √n groups (see unstackSafe). */
const GROUP_ABOVE = 16;

/** [0, n) cut into consecutive groups of ⌈√n⌉. */
function groupSizes(n: number): number[] {
  const g = Math.ceil(Math.sqrt(n));
  const sizes: number[] = [];
  for (let s = 0; s < n; s += g) sizes.push(Math.min(g, n - s));
  return sizes;
}

/**
 * tf.unstack along `axis`, with two work-arounds:
 * - size 1: tfjs 4.22's Unpack gradient calls stack(dy) and fails when the kernel had one output,
 *   so a single piece is a squeeze;
 * - many pieces: the wasm Slice kernel copies its whole input for every slice (readSync), so n
 *   pieces cost n full copies; splitting into √n groups first costs ~2√n.
 */
export function unstackSafe<T extends tf.Tensor>(x: tf.Tensor, axis: number): T[] {
  const n = x.shape[axis] ?? 0;
  if (n === 1) return [tf.squeeze(x, [axis]) as T];
  if (n <= GROUP_ABOVE) return tf.unstack(x, axis) as T[];
  return tf.split(x, groupSizes(n), axis).flatMap((part) => unstackSafe<T>(part, axis));
}

/**
 * tf.stack, mirroring unstackSafe: one tensor is an expandDims, many go through √n groups (the
 * gradient of stack is an unstack, which has the same wasm cost).
 */
export function stackSafe<T extends tf.Tensor>(xs: tf.Tensor[], axis: number): T {
  if (xs.length === 1) return tf.expandDims(xs[0]!, axis) as T;
  if (xs.length <= GROUP_ABOVE) return tf.stack(xs, axis) as T;
  let at = 0;
  const groups = groupSizes(xs.length).map((size) => {
    const part = stackSafe(xs.slice(at, at + size), axis);
    at += size;
    return part;
  });
  return tf.concat(groups, axis) as T;
}
