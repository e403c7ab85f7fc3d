// (I + A)^-1 for strictly lower-triangular A [M, C, C], batched and differentiable: the UT transform
// of the delta rule (reference-implementations.md §1.5). Ports the idea of fla's `solve_tril`
// (invert small diagonal blocks, merge with Ai21 = −Ai22·A21·Ai11) as log2(C) doubling steps.
import * as tf from '@tensorflow/tfjs';
import { bmm } from './tensor.js';

/**
 * The diagonal blocks of size s of a [M, P, P] matrix, as [M·(P/s), s, s] (block-major per matrix).
 * Uses reshape + an identity mask + sum instead of gather (whose gradient is slow on cpu).
 */
function diagonalBlocks(a: tf.Tensor3D, s: number): tf.Tensor3D {
  const [m, p] = a.shape;
  const nb = p / s;
  if (nb === 1) return a;
  const grid = tf.transpose(tf.reshape(a, [m, nb, s, nb, s]), [0, 1, 3, 2, 4]); // [M, nb, nb, s, s]
  const eye = tf.reshape(tf.eye(nb), [1, nb, nb, 1, 1]);
  return tf.reshape(tf.sum(tf.mul(grid, eye), 2), [m * nb, s, s]);
}

/**
 * Inverse of the unit lower-triangular matrix I + A, A [M, C, C] strictly lower triangular.
 *
 * Blocked forward substitution by doubling: with the inverses Ai11, Ai22 of two neighbouring
 * diagonal blocks of size s, the inverse of the 2s block [[I+A11, 0], [A21, I+A22]] is
 * [[Ai11, 0], [−Ai22·A21·Ai11, Ai22]]. Only products of already-inverted blocks appear, so this is
 * as stable as forward substitution (a Neumann series Σ(−A)^m would cancel catastrophically when
 * keys repeat). C is zero-padded to a power of two; the padding's inverse is the identity.
 */
export function unitLowerInverse(a: tf.Tensor3D): tf.Tensor3D {
  const [m, c] = a.shape;
  let p = 1;
  while (p < c) p *= 2;
  const ap = p === c ? a : tf.pad(a, [[0, 0], [0, p - c], [0, p - c]]);
  // Inverses of the diagonal blocks of the current size s: [M·(P/s), s, s]; for s = 1 they are 1.
  let inv: tf.Tensor3D = tf.ones([m * p, 1, 1]);
  for (let s = 1; s < p; s *= 2) {
    const nb = p / (2 * s); // number of 2s-blocks per matrix
    const a21 = tf.slice(diagonalBlocks(ap, 2 * s), [0, s, 0], [m * nb, s, s]);
    const pairs = tf.reshape(inv, [m * nb, 2, s, s]);
    const ai11 = tf.reshape(tf.slice(pairs, [0, 0, 0, 0], [m * nb, 1, s, s]), [m * nb, s, s]);
    const ai22 = tf.reshape(tf.slice(pairs, [0, 1, 0, 0], [m * nb, 1, s, s]), [m * nb, s, s]);
    const ai21 = tf.neg(bmm(bmm(ai22, a21), ai11));
    const top = tf.concat([ai11, tf.zeros([m * nb, s, s])], 2);
    const bottom = tf.concat([ai21, ai22], 2);
    inv = tf.concat([top, bottom], 1) as tf.Tensor3D;
  }
  return p === c ? inv : tf.slice(inv, [0, 0, 0], [m, c, c]);
}
