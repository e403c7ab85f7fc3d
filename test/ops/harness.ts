// Shared test machinery for src/ops: golden-file loading, seeded random inputs, and one function
// that returns an op's outputs and the gradients of sum(o·do) + sum(finalState·dfinalState).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

interface GoldenTensor {
  shape: number[];
  data: number[];
}

export interface Golden {
  op: string;
  notes: string;
  inputs: Record<string, GoldenTensor>;
  outputs: { o: GoldenTensor; final_state: GoldenTensor };
  cotangents: { do: GoldenTensor; dfinal_state: GoldenTensor };
  grads: Record<string, GoldenTensor>;
}

/** ../shared/golden/ops/<op>.json relative to the repository root. */
export function loadGolden(op: string): Golden {
  const file = fileURLToPath(new URL(`../../../shared/golden/ops/${op}.json`, import.meta.url));
  return JSON.parse(readFileSync(file, 'utf8')) as Golden;
}

export function goldenTensor(t: GoldenTensor): tf.Tensor {
  return tf.tensor(t.data, t.shape, 'float32');
}

/** mulberry32 + Box–Muller: deterministic inputs without touching tf's global RNG. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
  /** Tensor of N(0, std²) entries. */
  randn(shape: number[], std = 1): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = std * this.normal();
    return tf.tensor(a, shape);
  }
  /** Log decays logsigmoid(z)/temperature, z ~ N(0,1) (temperature 16: GLA/MetaLA; 1: strong decay). */
  logDecay(shape: number[], temperature: number): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const z = this.normal();
      a[i] = -(z > 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z))) / temperature;
    }
    return tf.tensor(a, shape);
  }
  /** Uniform(lo, hi) entries. */
  uniformTensor(shape: number[], lo: number, hi: number): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * this.uniform();
    return tf.tensor(a, shape);
  }
  /** Rows of unit L2 norm along the last axis. */
  unitRows(shape: number[]): tf.Tensor {
    return tf.tidy(() => {
      const x = this.randn(shape);
      return tf.div(x, tf.norm(x, 'euclidean', -1, true));
    });
  }
}

export interface OpResult {
  o: tf.Tensor;
  finalState?: tf.Tensor;
}

/** An op call on named inputs (all differentiable), e.g. (x) => gla(x.q, x.k, x.v, x.g, {...}). */
export type OpFn = (x: Record<string, tf.Tensor>) => OpResult;

export interface Evaluated {
  o: Float32Array;
  finalState: Float32Array;
  grads: Record<string, Float32Array>;
}

/**
 * Outputs plus d(sum(o·do) + sum(finalState·dFinal))/d(input) for every named input.
 * Cotangents default to seeded random tensors of the outputs' shapes.
 */
export function evaluate(fn: OpFn, inputs: Record<string, tf.Tensor>, cot?: { do: tf.Tensor; dFinal: tf.Tensor }): Evaluated {
  const names = Object.keys(inputs);
  return tf.tidy(() => {
    const r = fn(inputs);
    if (r.finalState === undefined) throw new Error('op returned no finalState');
    const rng = new Rng(1234);
    const dO = cot?.do ?? rng.randn(r.o.shape);
    const dF = cot?.dFinal ?? rng.randn(r.finalState.shape);
    const loss = (...xs: tf.Tensor[]): tf.Scalar => {
      const named: Record<string, tf.Tensor> = {};
      names.forEach((n, i) => (named[n] = xs[i]!));
      const y = fn(named);
      return tf.add(tf.sum(tf.mul(y.o, dO)), tf.sum(tf.mul(y.finalState!, dF)));
    };
    const gs = tf.grads(loss)(names.map((n) => inputs[n]!));
    const grads: Record<string, Float32Array> = {};
    names.forEach((n, i) => (grads[n] = gs[i]!.dataSync() as Float32Array));
    return { o: r.o.dataSync() as Float32Array, finalState: r.finalState.dataSync() as Float32Array, grads };
  });
}
