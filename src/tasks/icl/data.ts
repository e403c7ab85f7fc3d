// In-context linear regression prompts (docs/seed-systems.md §5): per prompt a task β ~ N(0, Σβ), a
// query x ~ N(0, I_d), n context pairs (x_i, y_i = x_iᵀβ + ξ_i) and the noise-free target y* = xᵀβ.
// Tokens z_i = [x_i, y_i] (i = 1..n) and z_{n+1} = [x, 0], so a prompt is [n+1, d+1] floats.
import type { Rng } from '../../util/rng.js';

export type TaskCovariance =
  /** Σβ = I_d. */
  | { kind: 'identity' }
  /** Σβ = γ·11ᵀ + (1 − γ)I_d (paper Fig. 2c). */
  | { kind: 'equicorrelated'; gamma: number }
  /** Σβ = diag(λ) (the low-rank study, Fig. 3c). */
  | { kind: 'diagonal'; lambda: number[] };

export interface IclDesign {
  d: number;
  n: number;
  beta: TaskCovariance;
  /** Context inputs: i.i.d. N(0, I), or (ours) `rag` around the query: αx + √(1 − α²)g_i. */
  context: { kind: 'iid' } | { kind: 'rag'; alpha: number };
  /** Label noise variance per context position (length n), e.g. all σ², or a step schedule. */
  noise: number[];
}

export interface IclPrompts {
  count: number;
  /** [count, n+1, d+1] tokens. */
  tokens: Float32Array;
  /** [count] noise-free targets xᵀβ. */
  targets: Float32Array;
}

function sampleBeta(rng: Rng, d: number, c: TaskCovariance): Float64Array {
  const b = new Float64Array(d);
  if (c.kind === 'identity') for (let j = 0; j < d; j++) b[j] = rng.normal();
  else if (c.kind === 'equicorrelated') {
    const common = Math.sqrt(c.gamma) * rng.normal();
    for (let j = 0; j < d; j++) b[j] = common + Math.sqrt(1 - c.gamma) * rng.normal();
  } else for (let j = 0; j < d; j++) b[j] = Math.sqrt(c.lambda[j]!) * rng.normal();
  return b;
}

/** `count` prompts of `design`, deterministic in `rng`. */
export function samplePrompts(rng: Rng, count: number, design: IclDesign): IclPrompts {
  const { d, n } = design;
  if (design.noise.length !== n) throw new RangeError(`icl: noise has ${design.noise.length} entries for n = ${n} context pairs`);
  const F = d + 1;
  const tokens = new Float32Array(count * (n + 1) * F);
  const targets = new Float32Array(count);
  const x = new Float64Array(d);
  for (let p = 0; p < count; p++) {
    const beta = sampleBeta(rng, d, design.beta);
    for (let j = 0; j < d; j++) x[j] = rng.normal();
    const base = p * (n + 1) * F;
    for (let i = 0; i < n; i++) {
      let y = 0;
      for (let j = 0; j < d; j++) {
        const g = rng.normal();
        const xi = design.context.kind === 'rag' ? design.context.alpha * x[j]! + Math.sqrt(1 - design.context.alpha ** 2) * g : g;
        tokens[base + i * F + j] = xi;
        y += xi * beta[j]!;
      }
      tokens[base + i * F + d] = y + Math.sqrt(design.noise[i]!) * rng.normal();
    }
    let target = 0;
    for (let j = 0; j < d; j++) {
      tokens[base + n * F + j] = x[j]!;
      target += x[j]! * beta[j]!;
    }
    targets[p] = target;
  }
  return { count, tokens, targets };
}
