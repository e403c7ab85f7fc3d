// RWKV-4 WKV, chunkwise in log space (exact; the 'parallel' form is one chunk spanning T). Per
// chunk of C tokens, with the state (a, b, p) entering it and i, j positions inside the chunk:
//   wkv_i = Σ_{j≤i} e^{E_ij} (v_j, 1) + e^{p − i·w} (a, b)   (numerator, denominator; then divide)
//   E_ij = k_j − (i−1−j)·w for j < i,   u + k_i for j = i          (derivation: rwkv4/README.md)
// Every exponent is shifted by its row maximum before exp, so large k never overflows; only the
// state passing between chunks is a loop (N = T/C elementwise steps on [B, D]).
import * as tf from '@tensorflow/tfjs';
import { stackSafe, unstackSafe } from '../common/tensor.js';
import type { RecurrenceResult } from '../common/types.js';
import { initialRwkv4State, type Rwkv4Resolved } from './state.js';

/** Exponent of masked (j > i) and padded entries: exp gives exactly 0 and a zero gradient. */
const NEG = -1e30;

/** [C, C] constants: (i−1−j) below the diagonal, the identity, and the additive causal mask. */
function chunkConstants(c: number): { rel: Float32Array; eye: Float32Array; mask: Float32Array } {
  const rel = new Float32Array(c * c);
  const eye = new Float32Array(c * c);
  const mask = new Float32Array(c * c);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      if (j < i) rel[i * c + j] = i - 1 - j;
      else if (j === i) eye[i * c + j] = 1;
      else mask[i * c + j] = NEG;
    }
  }
  return { rel, eye, mask };
}

/**
 * Chunkwise form, chunk length C = min(opts.chunkSize, T); T is padded with k = −1e30, v = 0.
 * @param k [B,T,D] keys, @param v [B,T,D] values, @param w [D] decay rate > 0, @param u [D] bonus
 * @returns o [B,T,D] and the state after the last real token [B,3,D] (padding never enters it)
 */
export function rwkv4Chunk(k: tf.Tensor3D, v: tf.Tensor3D, w: tf.Tensor1D, u: tf.Tensor1D, opts: Rwkv4Resolved): RecurrenceResult<tf.Tensor3D, tf.Tensor3D> {
  return tf.tidy(() => {
    const [b, t, d] = k.shape;
    const c = Math.min(opts.chunkSize, t);
    const n = Math.ceil(t / c);
    const m = n * b;
    // [B, T, D] → [N, B, C, D], chunk-major so the loop walks contiguous slices.
    const chunks = (x: tf.Tensor3D, fill: number): tf.Tensor4D =>
      tf.transpose(tf.reshape(tf.pad(x, [[0, 0], [0, n * c - t], [0, 0]], fill), [b, n, c, d]), [1, 0, 2, 3]);
    const k4 = chunks(k, NEG);
    const v4 = chunks(v, 0);
    const wRow = tf.reshape(w, [1, 1, d]);

    // 1. In-chunk terms of every output, all chunks at once: E [M, C(i), C(j), D].
    const { rel, eye, mask } = chunkConstants(c);
    const delta = tf.add(
      tf.add(tf.mul(tf.tensor3d(rel, [c, c, 1]), tf.neg(wRow)), tf.mul(tf.tensor3d(eye, [c, c, 1]), tf.reshape(u, [1, 1, d]))),
      tf.tensor3d(mask, [c, c, 1]),
    ); // [C, C, D]
    const e = tf.add(tf.reshape(k4, [m, 1, c, d]), tf.reshape(delta, [1, c, c, d]));
    const mLoc = tf.max(e, 2, true); // [M, C, 1, D]
    const pe = tf.exp(tf.sub(e, mLoc));
    const numLoc = tf.sum(tf.mul(pe, tf.reshape(v4, [m, 1, c, d])), 2); // [M, C, D]
    const denLoc = tf.sum(pe, 2);

    // 2. What each chunk adds to the state: exponents k_j − (L_n−1−j)·w, L_n = real length of chunk n.
    const lens = Array.from({ length: n }, (_, i) => Math.min(c, t - i * c));
    const off = new Float32Array(n * c);
    lens.forEach((len, i) => {
      for (let j = 0; j < c; j++) off[i * c + j] = len - 1 - j;
    });
    const f = tf.sub(k4, tf.mul(tf.tensor4d(off, [n, 1, c, 1]), tf.reshape(w, [1, 1, 1, d]))); // [N, B, C, D]
    const mEnd = tf.max(f, 2); // [N, B, D]
    const pEnd = tf.exp(tf.sub(f, tf.expandDims(mEnd, 2)));
    const aEnd = tf.sum(tf.mul(pEnd, v4), 2);
    const bEnd = tf.sum(pEnd, 2);
    const decay = tf.mul(tf.tensor3d(Float32Array.from(lens), [n, 1, 1]), wRow); // L_n·w [N, 1, D]

    // 3. State passing: (a, b, p) ← e^{p − L_n w} (a, b) + e^{mEnd} (aEnd, bEnd), in log scale.
    const [me, ae, be, dec] = [mEnd, aEnd, bEnd, decay].map((x) => unstackSafe<tf.Tensor2D>(x, 0));
    let { a, b: den, p } = initialRwkv4State(b, d, opts.initialState);
    const entering: [tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[]] = [[], [], []];
    for (let i = 0; i < n; i++) {
      entering[0].push(a);
      entering[1].push(den);
      entering[2].push(p);
      const pc = tf.sub(p, dec![i]!);
      const q = tf.maximum(pc, me![i]!) as tf.Tensor2D;
      const f1 = tf.exp(tf.sub(pc, q));
      const f2 = tf.exp(tf.sub(me![i]!, q));
      a = tf.add(tf.mul(f1, a), tf.mul(f2, ae![i]!));
      den = tf.add(tf.mul(f1, den), tf.mul(f2, be![i]!));
      p = q;
    }
    const [aIn, bIn, pIn] = entering.map((xs) => tf.reshape(stackSafe(xs, 0), [m, 1, d]));

    // 4. Outputs: the entering state reaches position i with log scale p − i·w.
    const steps = tf.mul(tf.tensor3d(Float32Array.from({ length: c }, (_, i) => i), [1, c, 1]), wRow); // [1, C, D]
    const cs = tf.sub(pIn!, steps); // [M, C, D]
    const ml = tf.reshape(mLoc, [m, c, d]);
    const mm = tf.maximum(ml, cs);
    const s1 = tf.exp(tf.sub(ml, mm));
    const s2 = tf.exp(tf.sub(cs, mm));
    const o3 = tf.div(tf.add(tf.mul(s1, numLoc), tf.mul(s2, aIn!)), tf.add(tf.mul(s1, denLoc), tf.mul(s2, bIn!)));
    let o: tf.Tensor3D = tf.reshape(tf.transpose(tf.reshape(o3, [n, b, c, d]), [1, 0, 2, 3]), [b, n * c, d]);
    if (n * c !== t) o = tf.slice(o, [0, 0, 0], [b, t, d]);
    return opts.wantState ? { o, finalState: tf.stack([a, den, p], 1) as tf.Tensor3D } : { o };
  });
}
