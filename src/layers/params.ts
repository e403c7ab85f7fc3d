// Named trainable parameters. Names follow the Hugging Face MetaLA checkpoint
// (`model.layers.0.token_mixer.q_proj.weight`) so loading and saving is a rename-free map.
// Porting note: PyTorch nn.Linear stores weights [out, in]; we keep them [in, out] so a dense layer
// is one plain matMul (wasm's transposed matMul path is ~10× slower), and transpose on load/save.
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';

export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; bound: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'const'; value: number }
  | { kind: 'custom'; values: (n: number, rng: Rng) => Float32Array };

export interface ParamSpec {
  name: string;
  /** Shape as used in our computations. */
  shape: number[];
  /**
   * `linear`: a 2-D weight stored transposed in checkpoint files — dense [in, out] here and
   * [out, in] there; conv taps [c, D] here and [D, 1, c] there (any fileShape whose 2-D view is
   * the transpose of ours).
   */
  layout: 'plain' | 'linear';
  /** Shape in checkpoint files (PyTorch convention). */
  fileShape: number[];
  /** AdamW weight decay applies (matrices and embeddings; not biases, norms, gains or decays). */
  decay: boolean;
}

let nextId = 0;

export class Params {
  readonly specs = new Map<string, ParamSpec>();
  readonly vars = new Map<string, tf.Variable>();
  /** tf variable name → parameter name. */
  readonly byVarName = new Map<string, string>();
  /**
   * Stacked replicas (train.stack): built from a list of seeds, every variable gains a leading
   * replica axis [R, ...shape] and replica r is initialised exactly as `new Params(seeds[r])` would
   * (its own generator, drawn in the same order). `specs` keep the per-replica shape.
   */
  readonly replicas: number;
  readonly stacked: boolean;
  private readonly rngs: Rng[];
  private readonly id = nextId++;

  constructor(seed: number | readonly number[]) {
    const seeds = typeof seed === 'number' ? [seed] : seed;
    if (seeds.length === 0) throw new Error('internal: Params needs at least one seed');
    this.stacked = typeof seed !== 'number';
    this.replicas = seeds.length;
    this.rngs = seeds.map((s) => new Rng(s));
  }

  /** Create (or return, if it exists) a parameter. `fileShape` defaults to the PyTorch layout. */
  add(
    name: string,
    shape: number[],
    init: Init,
    opts: { layout?: 'plain' | 'linear'; decay?: boolean; fileShape?: number[] } = {},
  ): tf.Variable {
    const existing = this.vars.get(name);
    if (existing !== undefined) return existing;
    const layout = opts.layout ?? 'plain';
    const fileShape = opts.fileShape ?? (layout === 'linear' ? [shape[1]!, shape[0]!] : shape);
    const decay = opts.decay ?? shape.length >= 2;
    const n = shape.reduce((a, b) => a * b, 1);
    let values: Float32Array;
    if (this.stacked) {
      values = new Float32Array(n * this.replicas);
      this.rngs.forEach((rng, r) => values.set(initValues(init, n, rng), r * n));
    } else {
      values = initValues(init, n, this.rngs[0]!);
    }
    // TF.js variable names are global to the engine: suffix them so models can coexist.
    const init0 = tf.tensor(values, this.stacked ? [this.replicas, ...shape] : shape, 'float32');
    const v = tf.variable(init0, true, `${name}#${this.id}`);
    init0.dispose();
    this.byVarName.set(v.name, name);
    this.specs.set(name, { name, shape, layout, fileShape, decay });
    this.vars.set(name, v);
    return v;
  }

  /** A view that prefixes names: `params.scope('model.layers.0')`. */
  scope(prefix: string): ParamScope {
    return new ParamScope(this, prefix);
  }

  /** The variables whose names start with `prefix` (one layer's, for recomputation). */
  under(prefix: string): tf.Variable[] {
    return [...this.vars.entries()].filter(([n]) => n.startsWith(prefix)).map(([, v]) => v);
  }

  /** Parameters of one model (one replica of a stack). */
  count(): number {
    let n = 0;
    for (const s of this.specs.values()) n += s.shape.reduce((a, b) => a * b, 1);
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.specs.clear();
    this.byVarName.clear();
  }
}

export class ParamScope {
  constructor(
    readonly root: Params,
    readonly prefix: string,
  ) {}
  add(name: string, shape: number[], init: Init, opts?: { layout?: 'plain' | 'linear'; decay?: boolean; fileShape?: number[] }): tf.Variable {
    return this.root.add(this.prefix === '' ? name : `${this.prefix}.${name}`, shape, init, opts);
  }
  /** Dense weight `[in, out]` named `<name>.weight` (+ `<name>.bias` when bias). */
  linear(name: string, inDim: number, outDim: number, init: Init, bias = false): { w: tf.Variable; b?: tf.Variable } {
    const w = this.add(`${name}.weight`, [inDim, outDim], init, { layout: 'linear' });
    if (!bias) return { w };
    return { w, b: this.add(`${name}.bias`, [outDim], { kind: 'zeros' }, { decay: false }) };
  }
  scope(name: string): ParamScope {
    return new ParamScope(this.root, this.prefix === '' ? name : `${this.prefix}.${name}`);
  }
}

function initValues(init: Init, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  switch (init.kind) {
    case 'normal':
      for (let i = 0; i < n; i++) out[i] = rng.normal() * init.std;
      return out;
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * init.bound;
      return out;
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'const':
      return out.fill(init.value);
    case 'custom':
      return init.values(n, rng);
  }
}

/** xavier_uniform bound with gain: gain·sqrt(6/(fan_in+fan_out)). */
export function xavierBound(fanIn: number, fanOut: number, gain = 1): number {
  return gain * Math.sqrt(6 / (fanIn + fanOut));
}
