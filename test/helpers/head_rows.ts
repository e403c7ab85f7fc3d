// The chunked head cross-entropy and argmax (src/train/head_cross_entropy.ts) against the plain
// path: logits formed whole, crossEntropy and tf.argMax per replica. Shared by the cpu suite and
// the webgpu (lavapipe) one.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { HeadRows } from '../../src/models/types.js';
import { headCrossEntropy, headPredictions } from '../../src/train/head_cross_entropy.js';
import { crossEntropy } from '../../src/train/loss.js';
import { Rng } from '../../src/util/rng.js';
import { expectClose } from './close.js';

/** Head rows of R replicas with `units` real rows each (n = max, the rest padding), d, V. */
export function randomHead(seed: number, units: number[], d: number, V: number, transposed: boolean): HeadRows {
  const rng = new Rng(seed);
  const R = units.length;
  const n = Math.max(...units);
  const rnd = (k: number): Float32Array => Float32Array.from({ length: k }, () => rng.next() * 2 - 1);
  const targets = Int32Array.from({ length: units.reduce((a, b) => a + b, 0) }, () => Math.floor(rng.next() * V));
  return {
    kind: 'head',
    rows: tf.tensor3d(rnd(R * n * d), [R, n, d]),
    weight: tf.tensor3d(rnd(R * d * V), transposed ? [R, V, d] : [R, d, V]),
    transposed,
    targets,
    replicaUnits: units,
  };
}

/** Per-replica losses and the gradients of Σ_r c_r ℓ_r for rows and weight (c_r = r + 1, so each replica's share is checked). */
async function lossAndGrads(h: HeadRows, losses: (rows: tf.Tensor3D, w: tf.Tensor3D) => tf.Tensor1D): Promise<{ loss: Float32Array; dRows: Float32Array; dW: Float32Array }> {
  const R = h.rows.shape[0];
  const c = tf.tensor1d(Float32Array.from({ length: R }, (_, r) => r + 1));
  let kept: tf.Tensor1D | undefined;
  const g = tf.grads((rows: tf.Tensor, w: tf.Tensor) => {
    const l = losses(rows as tf.Tensor3D, w as tf.Tensor3D);
    kept = tf.keep(l);
    return tf.sum(tf.mul(l, c));
  });
  const [dRows, dW] = g([h.rows, h.weight]);
  const out = { loss: (await kept!.data()) as Float32Array, dRows: (await dRows!.data()) as Float32Array, dW: (await dW!.data()) as Float32Array };
  tf.dispose([c, kept!, dRows!, dW!]);
  return out;
}

/** The plain path: each replica's real rows through its head, logits whole, crossEntropy. */
function plainLosses(h: HeadRows) {
  return (rows: tf.Tensor3D, w: tf.Tensor3D): tf.Tensor1D => {
    const [R, , d] = rows.shape;
    let from = 0;
    const per = h.replicaUnits.map((u, r) => {
      const hr = tf.reshape(tf.slice(rows, [r, 0, 0], [1, u, d]), [u, d]) as tf.Tensor2D;
      const wr = tf.reshape(tf.slice(w, [r, 0, 0], [1, w.shape[1], w.shape[2]]), [w.shape[1], w.shape[2]]) as tf.Tensor2D;
      const l = crossEntropy(tf.matMul(hr, wr, false, h.transposed), h.targets.subarray(from, from + u));
      from += u;
      return l;
    });
    if (per.length !== R) throw new Error('internal');
    return tf.stack(per) as tf.Tensor1D;
  };
}

/** Chunked (chunks of `chunkRows` rows per replica) and plain give the same losses and gradients. */
export async function expectHeadMatchesPlain(h: HeadRows, chunkRows: number, name: string): Promise<void> {
  const [R] = h.rows.shape;
  const V = h.transposed ? h.weight.shape[1] : h.weight.shape[2];
  const chunked = await lossAndGrads(h, (rows, w) => headCrossEntropy({ ...h, rows, weight: w }, chunkRows * R * V * 4));
  const plain = await lossAndGrads(h, plainLosses(h));
  expectClose(chunked.loss, plain.loss, { name: `${name} losses`, rtol: 1e-5 });
  expectClose(chunked.dRows, plain.dRows, { name: `${name} ∂rows`, rtol: 1e-5 });
  expectClose(chunked.dW, plain.dW, { name: `${name} ∂W`, rtol: 1e-5 });
}

/** headPredictions in chunks of `chunkRows` rows per replica equals tf.argMax of each replica's real rows' whole logits. */
export async function expectPredictionsMatchPlain(h: HeadRows, chunkRows: number, name: string): Promise<void> {
  const [R, , d] = h.rows.shape;
  const V = h.transposed ? h.weight.shape[1] : h.weight.shape[2];
  const got = headPredictions(h, chunkRows * R * V * 4);
  const want = tf.tidy(() => {
    const per = h.replicaUnits.map((u, r) => {
      const hr = tf.reshape(tf.slice(h.rows, [r, 0, 0], [1, u, d]), [u, d]) as tf.Tensor2D;
      const wr = tf.reshape(tf.slice(h.weight, [r, 0, 0], [1, h.weight.shape[1], h.weight.shape[2]]), [h.weight.shape[1], h.weight.shape[2]]) as tf.Tensor2D;
      return tf.argMax(tf.matMul(hr, wr, false, h.transposed), -1);
    });
    return tf.concat(per);
  });
  expect(got.dtype, `${name} dtype`).toBe('int32');
  expect([...(await got.data())], `${name} argmax`).toEqual([...(await want.data())]);
  tf.dispose([got, want]);
}
