// Closed-form excess risks of the best one-step preconditioned gradient descent (PGD) for in-context
// linear regression (Li, Rawat, Oymak, NeurIPS 2024; docs/seed-systems.md §5), which the paper proves
// one-layer linear attention and H3 reach: the curves the measured risks are plotted against.
// Notation: d features, n context pairs, task covariance Σβ, label noise σ², Σx = I.
import type { IclDesign, IclPrompts } from './data.js';

/**
 * PGD risk for Σβ with eigenvalues λ (Σx = I, common noise σ²), keeping the top r directions
 * (rank-r attention; r = d for full rank):
 *   R*_r = Σλ − n Σ_{j≤r} λ_j² / ((n+1)λ_j + Σλ + σ²).
 * For full rank this is tr Σβ − n tr(W*Σβ) with W* = Σβ((n+1)Σβ + (tr Σβ + σ²)I)⁻¹ in Σβ's eigenbasis.
 */
export function pgdRisk(lambda: readonly number[], n: number, sigma2 = 0, rank = lambda.length): number {
  const sorted = [...lambda].sort((a, b) => b - a);
  const tr = sorted.reduce((a, b) => a + b, 0);
  let kept = 0;
  for (let j = 0; j < Math.min(rank, sorted.length); j++) kept += sorted[j]! ** 2 / ((n + 1) * sorted[j]! + tr + sigma2);
  return tr - n * kept;
}

/** Isotropic Σβ = I_d: R* = d(d + 1 + σ²)/(n + d + 1 + σ²). */
export function isotropicRisk(d: number, n: number, sigma2 = 0): number {
  return (d * (d + 1 + sigma2)) / (n + d + 1 + sigma2);
}

/** Eigenvalues of Σβ = γ·11ᵀ + (1 − γ)I_d: γd + 1 − γ once, 1 − γ (d − 1 times). */
export function equicorrelatedEigenvalues(d: number, gamma: number): number[] {
  return [gamma * d + 1 - gamma, ...new Array<number>(d - 1).fill(1 - gamma)];
}

/** λ_j ∝ 2^{−j/2}, j = 1..d, scaled so that Σλ = total (the low-rank family of Fig. 3c). */
export function decayingEigenvalues(d: number, total: number): number[] {
  const raw = Array.from({ length: d }, (_, j) => Math.pow(2, -(j + 1) / 2));
  const s = raw.reduce((a, b) => a + b, 0);
  return raw.map((x) => (x * total) / s);
}

/**
 * Per-position noise σ_i² (Σβ = I): linear attention weights every pair alike, so its risk is the
 * isotropic one at the mean noise; H3's filter can weight pair i by ω_i ∝ 1/(d + 1 + σ_i²):
 *   LA: d(d + 1 + σ̄²)/(n + d + 1 + σ̄²),   H3: d / (1 + Σ_i 1/(d + 1 + σ_i²)).
 */
export function positionNoiseRisks(d: number, sigma2: readonly number[]): { la: number; h3: number; weights: number[] } {
  const n = sigma2.length;
  const mean = sigma2.reduce((a, b) => a + b, 0) / n;
  const inv = sigma2.map((s) => 1 / (d + 1 + s));
  return { la: isotropicRisk(d, n, mean), h3: d / (1 + inv.reduce((a, b) => a + b, 0)), weights: inv };
}

/**
 * Retrieval-style designs (ours, spec §5): context inputs x_i = αx + √(1 − α²)g_i around the query
 * (Σβ = I, noise σ²): R* = d − c₁²/c₂ with the moments c₁ = E[ŷ-direction · target], c₂ = E[ŷ-direction²].
 */
export function ragRisk(d: number, n: number, alpha: number, sigma2 = 0): number {
  const { c1, c2 } = ragMoments(d, n, alpha, sigma2);
  return d - (c1 * c1) / c2;
}

/** The moments of the rag design; the optimal scalar W = c₁/c₂ (W* ∝ I by symmetry). */
export function ragMoments(d: number, n: number, alpha: number, sigma2 = 0): { c1: number; c2: number } {
  const a2 = alpha * alpha;
  const b2 = 1 - a2;
  const m2 = a2 * d * (d + 2) + b2 * d; // E over one pair of the second moment
  const m4 = a2 * a2 * d * (d + 2) * (d + 4);
  const c1 = n * m2;
  const c2 =
    n * (n - 1) * (m4 + 2 * a2 * b2 * d * (d + 2) + b2 * b2 * d) +
    n * (m4 + (d + 5) * a2 * b2 * d * (d + 2) + (d + 2) * b2 * b2 * d) +
    sigma2 * n * m2;
  return { c1, c2 };
}

/**
 * The optimal one-step PGD predictor ŷ = xᵀ W Σ_i ω_i x_i y_i of a design (W applied to the
 * d-vector Σ_i ω_i x_i y_i), for the model it is the optimum of: linear attention weighs every pair
 * alike (ω = 1), H3 may weigh them (per-position noise). undefined where no closed form is derived
 * here: a rank below d with tied eigenvalues, rag or per-position noise with a non-identity Σβ.
 */
export function pgdPredictor(design: IclDesign, form: 'linear_attention' | 'h3', rank: number): PgdPredictor | undefined {
  const { d, n, noise } = design;
  const uniform = new Array<number>(n).fill(1);
  const scalar = (c: number) => (v: Float64Array) => v.map((x) => c * x);
  const constant = noise.every((s) => s === noise[0]);
  const sigma2 = noise[0] ?? 0;
  if (!constant) {
    if (design.beta.kind !== 'identity' || design.context.kind !== 'iid' || rank < d) return undefined;
    const mean = noise.reduce((a, b) => a + b, 0) / n;
    if (form === 'linear_attention') return { W: scalar(1 / (n + 1 + d + mean)), omega: uniform };
    const w = positionNoiseRisks(d, noise).weights;
    const sw = w.reduce((a, b) => a + b, 0);
    return { W: scalar(1), omega: w.map((x) => x / (1 + sw)) };
  }
  if (design.context.kind === 'rag') {
    if (design.beta.kind !== 'identity' || rank < d) return undefined;
    const { c1, c2 } = ragMoments(d, n, design.context.alpha, sigma2);
    return { W: scalar(c1 / c2), omega: uniform };
  }
  const b = design.beta;
  if (b.kind === 'identity') return rank < d ? undefined : { W: scalar(1 / (n + 1 + d + sigma2)), omega: uniform };
  if (b.kind === 'equicorrelated') {
    // Eigenvalues λ1 = γd + 1 − γ along 1/√d, 1 − γ on its complement (tied: rank 1 or ≥ d only).
    if (rank > 1 && rank < d) return undefined;
    const [l1, l0] = [b.gamma * d + 1 - b.gamma, 1 - b.gamma];
    const w1 = l1 / ((n + 1) * l1 + d + sigma2);
    const w0 = rank === 1 ? 0 : l0 / ((n + 1) * l0 + d + sigma2);
    return {
      W: (v) => {
        const m = v.reduce((a, x) => a + x, 0) / d;
        return v.map((x) => w0 * (x - m) + w1 * m);
      },
      omega: uniform,
    };
  }
  // diag(λ): the top r coordinates by λ (ties broken by index).
  const tr = b.lambda.reduce((a, x) => a + x, 0);
  const order = b.lambda.map((l, j) => [l, j] as const).sort((p, q) => q[0] - p[0] || p[1] - q[1]);
  const w = new Float64Array(d);
  for (const [l, j] of order.slice(0, Math.min(rank, d))) w[j] = l / ((n + 1) * l + tr + sigma2);
  return { W: (v) => v.map((x, j) => w[j]! * x), omega: uniform };
}

export interface PgdPredictor {
  /** v ↦ W v on the d-vector Σ_i ω_i x_i y_i. */
  W(v: Float64Array): Float64Array;
  /** ω_i per context pair. */
  omega: number[];
}

/** Mean excess risk of a PGD predictor on prompts, and its standard error over the prompts. */
export function riskOn(prompts: IclPrompts, design: IclDesign, p: PgdPredictor): { mean: number; se: number } {
  const { d, n } = design;
  const F = d + 1;
  let s = 0;
  let s2 = 0;
  const acc = new Float64Array(d);
  for (let q = 0; q < prompts.count; q++) {
    const base = q * (n + 1) * F;
    acc.fill(0);
    for (let i = 0; i < n; i++) {
      const wy = p.omega[i]! * prompts.tokens[base + i * F + d]!;
      for (let j = 0; j < d; j++) acc[j]! += wy * prompts.tokens[base + i * F + j]!;
    }
    const wa = p.W(acc);
    let yhat = 0;
    for (let j = 0; j < d; j++) yhat += prompts.tokens[base + n * F + j]! * wa[j]!;
    const e = (yhat - prompts.targets[q]!) ** 2;
    s += e;
    s2 += e * e;
  }
  const mean = s / prompts.count;
  return { mean, se: Math.sqrt(Math.max(0, s2 / prompts.count - mean * mean) / prompts.count) };
}
