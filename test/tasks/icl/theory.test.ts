// The in-context linear estimation theory (src/tasks/icl/theory.ts) reproduces the spec's reference
// values (docs/seed-systems.md §5, d = 10), and the prompt generator agrees with it: the PGD predictor
// ŷ = xᵀ W* Σ_i ω_i x_i y_i that the theory says is optimal reaches the theory's risk on Monte-Carlo
// prompts within 4 standard errors.
import { describe, expect, it } from 'vitest';
import { samplePrompts, type IclDesign } from '../../../src/tasks/icl/data.js';
import { decayingEigenvalues, equicorrelatedEigenvalues, isotropicRisk, pgdRisk, positionNoiseRisks, ragRisk } from '../../../src/tasks/icl/theory.js';
import { Rng } from '../../../src/util/rng.js';

const d = 10;
const NS = [5, 10, 20, 40, 80];
const round3 = (x: number) => Number(x.toFixed(3));

describe('ICL theory: the spec reference table', () => {
  it('E1–E6', () => {
    expect(NS.map((n) => round3(isotropicRisk(d, n)))).toEqual([6.875, 5.238, 3.548, 2.157, 1.209]);
    expect(NS.map((n) => round3(pgdRisk(new Array<number>(d).fill(1), n)))).toEqual([6.875, 5.238, 3.548, 2.157, 1.209]);
    expect(NS.map((n) => round3(isotropicRisk(d, n, 1)))).toEqual([7.059, 5.455, 3.75, 2.308, 1.304]);
    expect(NS.map((n) => round3(pgdRisk(equicorrelatedEigenvalues(d, 0.5), n)))).toEqual([5.617, 4.258, 2.984, 1.911, 1.123]);
    expect([0, 0.2, 0.4, 0.6].map((a) => round3(ragRisk(d, 20, a)))).toEqual([3.548, 2.895, 2.121, 1.726]);
    const e5 = positionNoiseRisks(d, [...new Array<number>(10).fill(25), ...new Array<number>(10).fill(0)]);
    expect([round3(e5.la), round3(e5.h3)]).toEqual([5.402, 4.573]);
    expect([1, 3, 10].map((r) => round3(pgdRisk(decayingEigenvalues(d, 10), 20, 0, r)))).toEqual([7.512, 4.752, 3.007]);
  });
});

/** Excess risk of ŷ = xᵀ W Σ_i ω_i x_i y_i over Monte-Carlo prompts: mean and its standard error. */
function mcRisk(design: IclDesign, W: (v: Float64Array) => Float64Array, omega: number[], count: number, seed: number): { mean: number; se: number } {
  const { tokens, targets } = samplePrompts(new Rng(seed), count, design);
  const F = d + 1;
  let s = 0;
  let s2 = 0;
  for (let p = 0; p < count; p++) {
    const base = p * (design.n + 1) * F;
    const acc = new Float64Array(d);
    for (let i = 0; i < design.n; i++) for (let j = 0; j < d; j++) acc[j]! += omega[i]! * tokens[base + i * F + j]! * tokens[base + i * F + d]!;
    const wa = W(acc);
    let yhat = 0;
    for (let j = 0; j < d; j++) yhat += tokens[base + design.n * F + j]! * wa[j]!;
    const e = (yhat - targets[p]!) ** 2;
    s += e;
    s2 += e * e;
  }
  const mean = s / count;
  return { mean, se: Math.sqrt((s2 / count - mean * mean) / count) };
}

const scalar = (c: number) => (v: Float64Array) => v.map((x) => c * x);
const ones = (n: number) => new Array<number>(n).fill(1);

describe('ICL prompts: the optimal PGD predictor reaches the theory', () => {
  const COUNT = 20000;
  it('iid, σ² = 0 and 1 (E1, E2 at n = 20)', () => {
    for (const s2 of [0, 1]) {
      const n = 20;
      const design: IclDesign = { d, n, beta: { kind: 'identity' }, context: { kind: 'iid' }, noise: new Array<number>(n).fill(s2) };
      const r = mcRisk(design, scalar(1 / (n + 1 + d + s2)), ones(n), COUNT, 1 + s2);
      expect(Math.abs(r.mean - isotropicRisk(d, n, s2))).toBeLessThan(4 * r.se);
    }
  });

  it('equicorrelated tasks (E3 at n = 10): W* = Σβ((n+1)Σβ + tr Σβ I)⁻¹', () => {
    const n = 10;
    const g = 0.5;
    // Σβ = g11ᵀ + (1−g)I has eigenvalues λ1 = gd + 1 − g (along 1) and 1 − g; W* shares its eigenvectors.
    const [l1, l0] = [g * d + 1 - g, 1 - g];
    const tr = d;
    const w1 = l1 / ((n + 1) * l1 + tr);
    const w0 = l0 / ((n + 1) * l0 + tr);
    const W = (v: Float64Array) => {
      const mean = v.reduce((a, b) => a + b, 0) / d;
      return v.map((x) => w0 * (x - mean) + w1 * mean);
    };
    const design: IclDesign = { d, n, beta: { kind: 'equicorrelated', gamma: g }, context: { kind: 'iid' }, noise: ones(n).map(() => 0) };
    const r = mcRisk(design, W, ones(n), COUNT, 7);
    expect(Math.abs(r.mean - pgdRisk(equicorrelatedEigenvalues(d, g), n))).toBeLessThan(4 * r.se);
  });

  it('rag context (E4, α = 0.4): the scalar W = c₁/c₂', () => {
    const n = 20;
    const a = 0.4;
    const a2 = a * a;
    const b2 = 1 - a2;
    const m2 = a2 * d * (d + 2) + b2 * d;
    const m4 = a2 * a2 * d * (d + 2) * (d + 4);
    const c1 = n * m2;
    const c2 = n * (n - 1) * (m4 + 2 * a2 * b2 * d * (d + 2) + b2 * b2 * d) + n * (m4 + (d + 5) * a2 * b2 * d * (d + 2) + (d + 2) * b2 * b2 * d);
    const design: IclDesign = { d, n, beta: { kind: 'identity' }, context: { kind: 'rag', alpha: a }, noise: ones(n).map(() => 0) };
    const r = mcRisk(design, scalar(c1 / c2), ones(n), COUNT, 9);
    expect(Math.abs(r.mean - ragRisk(d, n, a))).toBeLessThan(4 * r.se);
  });

  it('per-position noise (E5): H3-style weights ω_i ∝ 1/(d+1+σ_i²) reach the H3 risk, uniform weights the LA risk', () => {
    const n = 20;
    const noise = [...new Array<number>(10).fill(25), ...new Array<number>(10).fill(0)];
    const th = positionNoiseRisks(d, noise);
    const design: IclDesign = { d, n, beta: { kind: 'identity' }, context: { kind: 'iid' }, noise };
    // ŷ = xᵀ Σ_i ω_i x_i y_i with ω_i = w_i/(1 + Σw), w_i = 1/(d+1+σ_i²) (the weighted PGD optimum).
    const sw = th.weights.reduce((p, q) => p + q, 0);
    const h3 = mcRisk(design, scalar(1), th.weights.map((w) => w / (1 + sw)), COUNT, 11);
    expect(Math.abs(h3.mean - th.h3)).toBeLessThan(4 * h3.se);
    const mean = noise.reduce((p, q) => p + q, 0) / n;
    const la = mcRisk(design, scalar(1 / (n + 1 + d + mean)), ones(n), COUNT, 12);
    expect(Math.abs(la.mean - th.la)).toBeLessThan(4 * la.se);
    expect(th.h3).toBeLessThan(th.la);
  });
});
