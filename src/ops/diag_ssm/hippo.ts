// Spectrum of the skew-symmetric part of HiPPO-LegS, the imaginary parts of the diagonal SSM
// inits of DSS (Gupta et al. 2022, `hippo_skew_evals`: Λ = −1/2 + iω) and S5 (Smith et al. 2023,
// `make_DPLR_HiPPO`: HiPPO-N = −1/2·I + skew part). The upstream codes call a complex eigen-solver;
// here: the eigenvalues ±iω of the real skew matrix K are ±i·sqrt(eig(KᵀK)), KᵀK symmetric, found
// with cyclic Jacobi rotations in float64 (n ≤ a few hundred, once per model; memoised).

/** Eigenvalues of a symmetric n×n matrix (row-major), cyclic Jacobi; ascending. */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i]! * m[i]!;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! * m[p * n + q]!;
    if (off <= 1e-24 * total) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        // Rotation angle φ with cot 2φ = (a_qq − a_pp) / (2 a_pq) zeroes a_pq (Numerical Recipes §11.1).
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const kp = m[k * n + p]!;
          const kq = m[k * n + q]!;
          m[k * n + p] = c * kp - s * kq;
          m[k * n + q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) {
          const pk = m[p * n + k]!;
          const qk = m[q * n + k]!;
          m[p * n + k] = c * pk - s * qk;
          m[q * n + k] = s * pk + c * qk;
        }
      }
    }
  }
  return Float64Array.from({ length: n }, (_, i) => m[i * n + i]!).sort();
}

const cache = new Map<number, Float64Array>();

/**
 * The n/2 positive frequencies ω (descending) of K = (H − Hᵀ)/2 with H the strictly lower
 * triangle of sqrt((2i+1)(2j+1)) — the skew part of HiPPO-LegS, whose eigenvalues are ±iω.
 * @param n even matrix size (DSS: 2N for N modes; S5: the block size P/J)
 */
export function hippoSkewFrequencies(n: number): Float64Array {
  if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new Error(`hippoSkewFrequencies: n must be an even integer ≥ 2, got ${n}`);
  const hit = cache.get(n);
  if (hit !== undefined) return hit;
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * Math.sqrt((2 * i + 1) * (2 * j + 1));
      k[i * n + j] = v;
      k[j * n + i] = -v;
    }
  }
  // KᵀK = −K², symmetric positive semi-definite; its eigenvalues are ω² (each twice).
  const ktk = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += k[r * n + i]! * k[r * n + j]!;
      ktk[i * n + j] = s;
      ktk[j * n + i] = s;
    }
  }
  const ev = symmetricEigenvalues(ktk, n); // ascending, in equal pairs
  const out = new Float64Array(n / 2);
  for (let i = 0; i < n / 2; i++) out[i] = Math.sqrt(Math.max(0, ev[n - 1 - 2 * i]!));
  cache.set(n, out);
  return out;
}
