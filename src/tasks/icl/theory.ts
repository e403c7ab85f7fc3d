// Closed-form excess risks of the best one-step preconditioned gradient descent (PGD) for in-context
// linear regression (Li, Rawat, Oymak, NeurIPS 2024; docs/seed-systems.md §5), which the paper proves
// one-layer linear attention and H3 reach: the curves the measured risks are plotted against.
// Notation: d features, n context pairs, task covariance Σβ, label noise σ², Σx = I.

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
  const a2 = alpha * alpha;
  const b2 = 1 - a2;
  const m2 = a2 * d * (d + 2) + b2 * d; // E over one pair of the second moment
  const m4 = a2 * a2 * d * (d + 2) * (d + 4);
  const c1 = n * m2;
  const c2 =
    n * (n - 1) * (m4 + 2 * a2 * b2 * d * (d + 2) + b2 * b2 * d) +
    n * (m4 + (d + 5) * a2 * b2 * d * (d + 2) + (d + 2) * b2 * b2 * d) +
    sigma2 * n * m2;
  return d - (c1 * c1) / c2;
}
