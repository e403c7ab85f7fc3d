// AdamW (Loshchilov & Hutter 2019): decoupled weight decay, as torch.optim.AdamW, which Zoology
// and the MetaLA/NeoX runs use. Decay applies only to parameters marked `decay` (matrices and
// embeddings). Global-norm gradient clipping happens before the update, as clip_grad_norm_.
// The update runs on ONE flat vector of all parameters (concat → ~15 element-wise kernels →
// split), not per parameter: on webgpu every kernel launch costs ~1 ms of host time in Node, and a
// per-parameter AdamW was ~20 launches × every tensor (measured 0.9 s of a 2.2 s H100 step).
// Stacked replicas (train.stack): the flat vector becomes [R, P], one row per replica, with its own
// lr, weight decay, clip norm and gradient norm; replica r's row is updated exactly as a run alone.
// The gradient norms are row sums of squares (sum_squares.ts: on webgpu a two-stage reduction with
// many workgroups per row; tfjs's Sum gave the 25.5M-float ref2 gradient one workgroup, 19.9 ms).
import * as tf from '@tensorflow/tfjs';
import { assignInPlace } from '../backend/assign_in_place.js';
import type { Params } from '../layers/params.js';
import { rowSumSquares } from './sum_squares.js';

export interface AdamWConfig {
  betas: [number, number];
  eps: number;
  /** One value, or one per stacked replica. */
  weightDecay: number | readonly number[];
}

/** Per-replica values of a hyperparameter (one number stands for every replica). */
function perReplica(x: number | readonly number[], R: number, what: string): number[] {
  const xs = typeof x === 'number' ? new Array<number>(R).fill(x) : [...x];
  if (xs.length !== R) throw new Error(`internal: ${xs.length} values of ${what} for ${R} replicas`);
  return xs;
}

function zerosVariable(shape: number[]): tf.Variable {
  const z = tf.zeros(shape);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}


/** f(x), then x disposed: a temporary freed as soon as its one use is done (inside a tidy too). */
function drop<T>(f: (x: tf.Tensor) => T, x: tf.Tensor): T {
  const y = f(x);
  x.dispose();
  return y;
}

/** β·s + (1 − β)·x: an exponential moving average. */
function ema(s: tf.Tensor, x: tf.Tensor, beta: number): tf.Tensor {
  const a = tf.mul(s, beta);
  const b = tf.mul(x, 1 - beta);
  const y = tf.add(a, b);
  tf.dispose([a, b]);
  return y;
}

export class AdamW {
  private readonly names: string[];
  private readonly sizes: number[];
  /** First and second moments of all parameters, flattened in `names` order. */
  private readonly m: tf.Variable;
  private readonly v: tf.Variable;
  /** 1 where weight decay applies, else 0 (flat, constant). */
  private readonly decayMask: tf.Tensor1D;
  /** Number of updates applied (bias correction uses it). */
  t = 0;
  /** Stacked replicas (rows of m and v); 1 for a plain model. */
  private readonly R: number;
  /** This step's host values (stepInputs writes them, apply uploads them). */
  private readonly hyper: { invBc1: Float32Array; invBc2: Float32Array; lr: Float32Array; lrWd: Float32Array };

  constructor(
    private readonly params: Params,
    private readonly cfg: AdamWConfig,
  ) {
    this.names = [...params.vars.keys()];
    this.R = params.stacked ? params.replicas : 1;
    // Per replica: a stacked variable [R, ...shape] holds R rows of its spec's size.
    this.sizes = this.names.map((n) => params.vars.get(n)!.size / this.R);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    this.m = zerosVariable(params.stacked ? [this.R, total] : [total]);
    this.v = zerosVariable(params.stacked ? [this.R, total] : [total]);
    const mask = new Float32Array(total);
    let off = 0;
    this.names.forEach((n, i) => {
      if (params.specs.get(n)!.decay) mask.fill(1, off, off + this.sizes[i]!);
      off += this.sizes[i]!;
    });
    this.decayMask = tf.tensor1d(mask);
    this.hyper = { invBc1: new Float32Array(1), invBc2: new Float32Array(1), lr: new Float32Array(this.R), lrWd: new Float32Array(this.R) };
  }

  /** One flat vector of these tensors; the views freed at once (a parameter shared by a view is not updated in place). */
  private flat(ts: tf.Tensor[]): tf.Tensor1D {
    const views = ts.map((t) => tf.reshape(t, [-1]));
    const y = tf.concat(views, 0) as tf.Tensor1D;
    tf.dispose(views);
    return y;
  }

  /**
   * The host values of the next update, computed now (the update count advances): 1/(1−β₁ᵗ),
   * 1/(1−β₂ᵗ), then per replica lr and lr·weight decay. These arrays are the optimizer's inputs to a
   * step (step_replay.ts replays a step with new ones); `apply` uploads them. lr: one value, or one
   * per stacked replica (0 leaves a replica's parameters as they are: finished or diverged).
   */
  stepInputs(lr: number | readonly number[]): Float32Array[] {
    const lrs = perReplica(lr, this.R, 'lr');
    const wd = perReplica(this.cfg.weightDecay, this.R, 'weight decay');
    this.t += 1;
    const [b1, b2] = this.cfg.betas;
    this.hyper.invBc1[0] = 1 / (1 - Math.pow(b1, this.t));
    this.hyper.invBc2[0] = 1 / (1 - Math.pow(b2, this.t));
    lrs.forEach((l, r) => {
      this.hyper.lr[r] = l;
      this.hyper.lrWd[r] = l * wd[r]!;
    });
    return [this.hyper.invBc1, this.hyper.invBc2, this.hyper.lr, this.hyper.lrWd];
  }

  /**
   * Apply one update from gradients keyed by parameter name (every parameter must have one).
   * Returns the pre-clip global gradient norm (a scalar the caller reads and disposes).
   */
  step(grads: Record<string, tf.Tensor>, lr: number, clip: number): tf.Scalar {
    if (this.params.stacked) throw new Error('internal: a stacked model steps with stepReplicas');
    if (typeof this.cfg.weightDecay !== 'number') throw new Error('internal: per-replica weight decay on a plain model');
    this.stepInputs(lr);
    return this.apply(grads, [clip]) as tf.Scalar;
  }

  /**
   * The update with the values of the last `stepInputs`: clip is the clip norm (0 = none), one
   * per replica when stacked. Returns the pre-clip gradient norm: a scalar, or [R] when stacked.
   */
  apply(grads: Record<string, tf.Tensor>, clip: readonly number[]): tf.Tensor {
    if (clip.length !== this.R) throw new Error(`internal: clip for ${clip.length} of ${this.R} replicas`);
    const gradOf = (n: string): tf.Tensor => {
      const g = grads[n];
      if (g === undefined) throw new Error(`internal: no gradient for parameter ${n}`);
      return g;
    };
    const h = this.hyper;
    return tf.tidy(() => {
      if (!this.params.stacked) {
        const g0 = this.flat(this.names.map(gradOf));
        // ‖g‖ as the one row of [1, P]: the same kernel, so the same bits, as a stacked replica's row
        // (the [1, P] view is freed at once: it would keep g0's buffer alive after g0 is dropped)
        const ss = drop((x) => rowSumSquares(x as tf.Tensor2D), tf.reshape(g0, [1, -1]));
        const norm = tf.sqrt(drop((x) => tf.reshape(x, []), ss)) as tf.Scalar;
        // scale = min(1, clip / (norm + 1e-6)), computed on device (no sync).
        const c = clip[0]!;
        const g = c > 0 ? drop((x) => tf.mul(x, tf.minimum(1, tf.div(c, tf.add(norm, 1e-6)))), g0) : g0;
        this.update(g, () => tf.sub(1, tf.mul(this.decayMask, tf.tensor(h.lrWd, []))), tf.tensor(h.lr, []), 0);
        return norm;
      }
      const R = this.R;
      const col = (xs: Float32Array): tf.Tensor2D => tf.tensor2d(xs, [R, 1]);
      const g0 = this.rows(this.names.map(gradOf));
      const norm = tf.sqrt(drop((x) => tf.reshape(x, [R, 1]), rowSumSquares(g0))); // [R, 1]
      // As a plain model: scale = min(1, clip / (norm + 1e-6)); no clip = an infinite one.
      const clips = col(Float32Array.from(clip, (c) => (c > 0 ? c : Infinity)));
      const g = drop((x) => tf.mul(x, tf.minimum(1, tf.div(clips, tf.add(norm, 1e-6)))), g0);
      this.update(g, () => tf.sub(1, tf.mul(this.decayMask, col(h.lrWd))), col(h.lr), 1);
      return tf.reshape(norm, [R]);
    });
  }

  /**
   * m, v and the parameters from the clipped flat gradient g (disposed here), with decoupled decay
   * p ← p·keep − lr·m̂/(√v̂ + ε), keep = 1 − lr·wd·mask. `lr` is a number, or a column [R, 1] of
   * per-replica values (stacked); `axis` is where the flat vector's pieces lie (0, or 1 when stacked).
   * Porting note: the same kernels in the same order as the expression form (so the same bits), but
   * each temporary freed once used: inside one tidy they all lived to its end, ~25 copies of the flat
   * vector at once (the peak of a step of a model with few activations: 2.65 GB of a 25.5M-parameter
   * MetaLA on a 2,048-token batch, measured on lavapipe), now at most ~6.
   */
  private update(g: tf.Tensor, keep: () => tf.Tensor, lr: tf.Tensor, axis: 0 | 1): void {
    const [b1, b2] = this.cfg.betas;
    const m2 = ema(this.m, g, b1);
    const g2 = drop(tf.square, g);
    const v2 = ema(this.v, g2, b2);
    g2.dispose();
    // The old moments are freed before the update's temporaries exist (m, v now hold m2, v2).
    assignInPlace(this.m, m2);
    assignInPlace(this.v, v2);
    // m̂ / (√v̂ + ε)
    const den = drop((x) => tf.add(x, this.cfg.eps), drop(tf.sqrt, tf.mul(this.v, tf.tensor(this.hyper.invBc2, []))));
    const mh = tf.mul(this.m, tf.tensor(this.hyper.invBc1, []));
    const upd = tf.div(mh, den);
    tf.dispose([mh, den]);
    const vars = this.names.map((n) => this.params.vars.get(n)!);
    const p0 = axis === 0 ? this.flat(vars) : this.rows(vars);
    const k = keep();
    const kept = tf.mul(p0, k);
    tf.dispose([p0, k]);
    const step = tf.mul(upd, lr);
    upd.dispose();
    const p1 = tf.sub(kept, step);
    tf.dispose([kept, step]);
    const pieces = drop((x) => tf.split(x, this.sizes, axis), p1);
    this.names.forEach((n, i) => {
      const p = this.params.vars.get(n)!;
      assignInPlace(p, drop((x) => tf.reshape(x, p.shape), pieces[i]!));
    });
  }

  private rows(ts: tf.Tensor[]): tf.Tensor2D {
    const views = ts.map((t) => tf.reshape(t, [this.R, -1]));
    const y = tf.concat(views, 1) as tf.Tensor2D;
    tf.dispose(views);
    return y;
  }

  /**
   * Stacked replicas: one update of every replica, each with its own lr, clip norm (0 = none) and
   * the weight decay of the config. lr 0 leaves a replica's parameters as they are (a finished or
   * diverged replica, masked out). Returns each replica's pre-clip gradient norm [R].
   */
  stepReplicas(grads: Record<string, tf.Tensor>, lr: readonly number[], clip: readonly number[]): tf.Tensor1D {
    if (lr.length !== this.R || clip.length !== this.R) throw new Error(`internal: lr/clip for ${lr.length}/${clip.length} of ${this.R} replicas`);
    this.stepInputs(lr);
    return this.apply(grads, clip) as tf.Tensor1D;
  }

  /**
   * A stacked replica that diverged: its parameters and moments set to 0, so its NaNs stay out of
   * every later step (its loss is masked and its lr is 0 from then on).
   */
  async zeroReplica(r: number): Promise<void> {
    const zeroRow = async (v: tf.Variable): Promise<void> => {
      const data = (await v.data()) as Float32Array;
      const n = data.length / this.R;
      data.fill(0, r * n, (r + 1) * n);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
    };
    for (const n of this.names) await zeroRow(this.params.vars.get(n)!);
    await zeroRow(this.m);
    await zeroRow(this.v);
  }

  /** Optimizer moments keyed `<param>.adam_m` / `.adam_v`, for resumable checkpoints. */
  async exportState(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    if (this.params.stacked) throw new Error('internal: a stacked optimizer exports per replica (exportReplicaStates)');
    return (await this.exportReplicaStates())[0]!;
  }

  /** Each replica's moments, keyed as `exportState` (one map for a plain model). */
  async exportReplicaStates(): Promise<Map<string, { shape: number[]; data: Float32Array }>[]> {
    const m = (await this.m.data()) as Float32Array;
    const v = (await this.v.data()) as Float32Array;
    const total = m.length / this.R;
    return Array.from({ length: this.R }, (_, r) => {
      const out = new Map<string, { shape: number[]; data: Float32Array }>();
      let off = r * total;
      this.names.forEach((n, i) => {
        const shape = this.params.specs.get(n)!.shape;
        out.set(`${n}.adam_m`, { shape, data: m.slice(off, off + this.sizes[i]!) });
        out.set(`${n}.adam_v`, { shape, data: v.slice(off, off + this.sizes[i]!) });
        off += this.sizes[i]!;
      });
      return out;
    });
  }

  importState(state: Map<string, { shape: number[]; data: Float32Array }>, t: number): void {
    this.importReplicaStates([state], t);
  }

  /** Each replica's moments (as `exportReplicaStates` gives them) and the shared update count. */
  importReplicaStates(states: readonly Map<string, { shape: number[]; data: Float32Array }>[], t: number): void {
    if (states.length !== this.R) throw new Error(`internal: ${states.length} optimizer states for ${this.R} replicas`);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    const m = new Float32Array(total * this.R);
    const v = new Float32Array(total * this.R);
    states.forEach((state, r) => {
      let off = r * total;
      this.names.forEach((n, i) => {
        const sm = state.get(`${n}.adam_m`);
        const sv = state.get(`${n}.adam_v`);
        if (sm === undefined || sv === undefined || sm.data.length !== this.sizes[i]) throw new Error(`optimizer state for ${n} missing or misshapen`);
        m.set(sm.data, off);
        v.set(sv.data, off);
        off += this.sizes[i]!;
      });
    });
    tf.tidy(() => {
      this.m.assign(tf.tensor(m, this.m.shape));
      this.v.assign(tf.tensor(v, this.v.shape));
    });
    this.t = t;
  }

  dispose(): void {
    tf.dispose([this.m, this.v, this.decayMask]);
  }
}
