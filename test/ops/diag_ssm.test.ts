// diag_ssm: the fast forms (gla / hgrn mappings, with the complex rotation) equal the step loop on
// outputs, final states and gradients for T ∈ {1, 7, 63, 100} with an initial state; ZOH and
// bilinear discretisation against a direct float64 scalar computation; the HiPPO skew spectrum.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { diagScan, diagSsm, discretize, hippoSkewFrequencies } from '../../src/ops/diag_ssm/index.js';
import type { Form } from '../../src/ops/common/types.js';
import { expectClose } from '../helpers/close.js';
import { Rng, evaluate, type OpFn } from './harness.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const [B, D, N] = [2, 3, 4];
type Kind = 'real-selective' | 'complex-lti' | 'complex-varying';

/** Inputs of one test case; shapes exercise every broadcast the mixers use. */
function ssmInputs(kind: Kind, rng: Rng, t: number): Record<string, tf.Tensor> {
  const x = rng.randn([B, t, D]);
  if (kind === 'real-selective') {
    // Mamba: Δ_t·A per channel and state, B_t / C_t shared by the channels.
    return { x, logA: rng.logDecay([B, t, D, N], 1), b: rng.randn([B, t, 1, N]), c: rng.randn([B, t, 1, N]), skip: rng.randn([D]), s0: rng.randn([B, D, N]) };
  }
  const lti = kind === 'complex-lti';
  const p = lti ? [1, 1, D, N] : [B, t, D, N];
  return {
    x,
    logA: rng.logDecay(p, lti ? 4 : 1),
    angleA: rng.uniformTensor(p, -3, 3),
    b: rng.randn(lti ? [1, 1, D, N] : [B, t, 1, N]),
    bIm: rng.randn(lti ? [1, 1, D, N] : [B, t, 1, N]),
    c: rng.randn([1, 1, D, N]),
    cIm: rng.randn([1, 1, D, N]),
    skip: rng.randn([D]),
    s0: rng.randn([B, D, N]),
    s0Im: rng.randn([B, D, N]),
  };
}

function callSsm(form: Form | undefined, chunkSize?: number): OpFn {
  return (z) => {
    const r = diagSsm(
      {
        x: z['x'] as tf.Tensor3D,
        logA: z['logA'] as tf.Tensor4D,
        angleA: z['angleA'] as tf.Tensor4D | undefined,
        b: z['b'] as tf.Tensor4D,
        bIm: z['bIm'] as tf.Tensor4D | undefined,
        c: z['c'] as tf.Tensor4D,
        cIm: z['cIm'] as tf.Tensor4D | undefined,
        skip: z['skip'] as tf.Tensor1D,
      },
      { form, chunkSize, initialState: { re: z['s0'] as tf.Tensor3D, im: z['s0Im'] as tf.Tensor3D | undefined } },
    );
    const s = r.finalState!;
    return { o: r.y, finalState: s.im === undefined ? s.re : tf.concat([s.re, s.im], -1) };
  };
}

function callScan(form: Form | undefined, chunkSize?: number): OpFn {
  return (z) => {
    const r = diagScan(
      { u: z['u'] as tf.Tensor3D, uIm: z['uIm'] as tf.Tensor3D | undefined, logA: z['logA'] as tf.Tensor3D, angleA: z['angleA'] as tf.Tensor3D | undefined },
      { form, chunkSize, initialState: { re: z['s0'] as tf.Tensor2D, im: z['s0Im'] as tf.Tensor2D | undefined } },
    );
    const h = r.h.im === undefined ? r.h.re : tf.concat([r.h.re, r.h.im], -1);
    const s = r.finalState!;
    return { o: h, finalState: s.im === undefined ? s.re : tf.concat([s.re, s.im], -1) };
  };
}

function agree(fn: (f: Form | undefined, c?: number) => OpFn, inputs: Record<string, tf.Tensor>, label: string): void {
  const ref = evaluate(fn('naive'), inputs);
  const variants: [Form | undefined, number | undefined][] = [
    [undefined, undefined],
    ['parallel', undefined],
    ['chunk', 16],
    ['chunk', 5],
  ];
  for (const [form, cs] of variants) {
    const got = evaluate(fn(form, cs), inputs);
    const name = `${label} ${form ?? 'default'}${cs === undefined ? '' : `(C=${cs})`}`;
    expectClose(got.o, ref.o, { name: `${name} o`, rtol: 2e-5 });
    expectClose(got.finalState, ref.finalState, { name: `${name} finalState`, rtol: 2e-5 });
    for (const n of Object.keys(ref.grads)) expectClose(got.grads[n]!, ref.grads[n]!, { name: `${name} d${n}`, rtol: 2e-4 });
  }
}

describe('diagSsm: fast (gla) = naive on outputs, state and gradients', () => {
  for (const kind of ['real-selective', 'complex-lti', 'complex-varying'] as const) {
    for (const t of [1, 7, 63, 100]) {
      it(`${kind}, T=${t}, with initial state`, () => {
        const inputs = ssmInputs(kind, new Rng(17 * t + kind.length), t);
        agree(callSsm, inputs, `${kind} T=${t}`);
        tf.dispose(Object.values(inputs));
      });
    }
  }

  it('high frequencies (|θ| ≈ 500 rad per step, DSS HiPPO init) agree at T = 100', () => {
    const rng = new Rng(77);
    const inputs = ssmInputs('complex-lti', rng, 100);
    tf.tidy(() => {
      const big = tf.mul(rng.uniformTensor([1, 1, D, N], 400, 600), tf.sign(inputs['angleA']!));
      inputs['angleA']!.dispose();
      inputs['angleA'] = tf.keep(big);
    });
    const ref = evaluate(callSsm('naive'), inputs);
    const got = evaluate(callSsm('chunk', 16), inputs);
    expectClose(got.o, ref.o, { name: 'chunk o (high θ)', rtol: 5e-5 });
    expectClose(got.finalState, ref.finalState, { name: 'chunk finalState (high θ)', rtol: 5e-5 });
    tf.dispose(Object.values(inputs));
  });

  it('is causal and continues from its state (fast form)', async () => {
    const rng = new Rng(5);
    const inp = ssmInputs('complex-lti', rng, 20);
    const run = (x: tf.Tensor, s0?: { re: tf.Tensor3D; im?: tf.Tensor3D }) =>
      diagSsm({ ...(inp as unknown as Parameters<typeof diagSsm>[0]), x: x as tf.Tensor3D }, { initialState: s0 });
    const full = run(inp['x']!);
    const x2 = tf.concat([tf.slice(inp['x']!, [0, 0, 0], [B, 8, D]), rng.randn([B, 12, D])], 1);
    const y2 = run(x2).y;
    expectClose(await tf.slice(y2, [0, 0, 0], [B, 8, D]).data(), await tf.slice(full.y, [0, 0, 0], [B, 8, D]).data(), { name: 'prefix y', rtol: 1e-6 });
    const first = run(tf.slice(inp['x']!, [0, 0, 0], [B, 8, D]));
    const rest = run(tf.slice(inp['x']!, [0, 8, 0], [B, 12, D]), first.finalState as { re: tf.Tensor3D; im: tf.Tensor3D });
    expectClose(await rest.y.data(), await tf.slice(full.y, [0, 8, 0], [B, 12, D]).data(), { name: 'continued y', rtol: 2e-5 });
  });

  it('names the tensor and layout in shape errors', () => {
    const x = tf.zeros([1, 3, 2]) as tf.Tensor3D;
    const a = tf.zeros([1, 3, 2, 4]) as tf.Tensor4D;
    expect(() => diagSsm({ x, logA: a, b: tf.zeros([1, 3, 5, 4]) as tf.Tensor4D, c: a })).toThrow(/diagSsm: b must be \[B\|1,T\|1,D\|1,N\] = \[1\|1,3\|1,2\|1,4\], got \[1,3,5,4\]/);
    expect(() => diagSsm({ x, logA: a, b: a, c: a }, { initialState: { re: tf.zeros([1, 2, 3]) as tf.Tensor3D } })).toThrow(/initialState\.re/);
  });
});

describe('diagScan: fast (hgrn) = naive on trajectories, state and gradients', () => {
  for (const complex of [false, true]) {
    for (const t of [1, 7, 63, 100]) {
      it(`${complex ? 'complex' : 'real'}, T=${t}, with initial state`, () => {
        const rng = new Rng(31 * t + (complex ? 1 : 0));
        const M = 5;
        const inputs: Record<string, tf.Tensor> = {
          u: rng.randn([B, t, M]),
          logA: rng.logDecay([1, 1, M], 2),
          s0: rng.randn([B, M]),
          ...(complex ? { uIm: rng.randn([B, t, M]), angleA: rng.uniformTensor([1, 1, M], -3, 3), s0Im: rng.randn([B, M]) } : {}),
        };
        agree(callScan, inputs, `scan T=${t}`);
        tf.dispose(Object.values(inputs));
      });
    }
  }
});

describe('discretize', () => {
  // Direct float64 complex arithmetic, one scalar at a time.
  type C = [number, number];
  const mul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
  const div = (a: C, b: C): C => {
    const n = b[0] * b[0] + b[1] * b[1];
    return [(a[0] * b[0] + a[1] * b[1]) / n, (a[1] * b[0] - a[0] * b[1]) / n];
  };
  const exp = (a: C): C => [Math.exp(a[0]) * Math.cos(a[1]), Math.exp(a[0]) * Math.sin(a[1])];
  const cases: { a: C; dt: number; b: C }[] = [
    { a: [-0.5, 3 * Math.PI], dt: 0.05, b: [1, 0] },
    { a: [-0.5, 0.7], dt: 0.001, b: [0.3, -1.2] },
    { a: [-3, 0], dt: 0.1, b: [2, 0] },
    { a: [-40, 0], dt: 0.1, b: [1, 0.5] }, // bilinear Ā = (1 − 2)/(1 + 2) < 0
    { a: [-1e-3, 0], dt: 1e-3, b: [1, 0] }, // tiny ΔA: ZOH must not cancel
  ];

  for (const method of ['zoh', 'bilinear'] as const) {
    it(`${method}: Ā (polar) and B̄ equal the scalar formulas`, async () => {
      const dtA = { re: tf.tensor1d(cases.map((c) => c.a[0] * c.dt)), im: tf.tensor1d(cases.map((c) => c.a[1] * c.dt)) };
      const dtB = { re: tf.tensor1d(cases.map((c) => c.b[0] * c.dt)), im: tf.tensor1d(cases.map((c) => c.b[1] * c.dt)) };
      const r = discretize(dtA, dtB, method);
      const logA = await r.logA.data();
      const ang = await r.angleA!.data();
      const br = await r.bBar.re.data();
      const bi = await r.bBar.im!.data();
      cases.forEach((c, i) => {
        const w: C = [c.a[0] * c.dt, c.a[1] * c.dt];
        const db: C = [c.b[0] * c.dt, c.b[1] * c.dt];
        let aBar: C;
        let bBar: C;
        if (method === 'zoh') {
          aBar = exp(w);
          bBar = mul(div([aBar[0] - 1, aBar[1]], w), db);
        } else {
          const den: C = [1 - w[0] / 2, -w[1] / 2];
          aBar = div([1 + w[0] / 2, w[1] / 2], den);
          bBar = div(db, den);
        }
        const got: C = [Math.exp(logA[i]!) * Math.cos(ang[i]!), Math.exp(logA[i]!) * Math.sin(ang[i]!)];
        for (const k of [0, 1]) {
          expect(Math.abs(got[k]! - aBar[k]!), `${method} case ${i} Ā[${k}]`).toBeLessThan(1e-6);
          expect(Math.abs([br[i]!, bi[i]!][k]! - bBar[k]!), `${method} case ${i} B̄[${k}]`).toBeLessThan(1e-6 * Math.max(1e-3, Math.hypot(...bBar)));
        }
      });
      if (method === 'bilinear') expect(Math.cos(ang[3]!)).toBeLessThan(0); // the sign is carried by the angle
      tf.dispose([dtA.re, dtA.im, dtB.re, dtB.im, r.logA, r.angleA!, r.bBar.re, r.bBar.im!]);
    });
  }

  it('ZOH of a real A stays real (no angle)', () => {
    const r = discretize({ re: tf.tensor1d([-0.1, -0.2]) }, { re: tf.tensor1d([0.1, 0.1]) }, 'zoh');
    expect(r.angleA).toBeUndefined();
    expect(r.bBar.im).toBeUndefined();
  });
});

describe('hippoSkewFrequencies', () => {
  it('n = 2: ±i·√3/2; every n: 2Σω² = ‖K‖²_F and ω descending', () => {
    expect(hippoSkewFrequencies(2)[0]).toBeCloseTo(Math.sqrt(3) / 2, 12);
    for (const n of [4, 16, 64]) {
      const w = hippoSkewFrequencies(n);
      expect(w.length).toBe(n / 2);
      let fro = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) fro += 2 * 0.25 * (2 * i + 1) * (2 * j + 1);
      const sum = 2 * w.reduce((a, b) => a + b * b, 0);
      expect(Math.abs(sum - fro) / fro).toBeLessThan(1e-10);
      for (let i = 1; i < w.length; i++) expect(w[i]!).toBeLessThanOrEqual(w[i - 1]!);
    }
    // n = 4: ω₁²ω₂² = det K = Pf(K)², Pf = k₀₁k₂₃ − k₀₂k₁₃ + k₀₃k₁₂ (K_ij = −½√((2i+1)(2j+1)), i < j).
    const k = (i: number, j: number): number => -0.5 * Math.sqrt((2 * i + 1) * (2 * j + 1));
    const pf = k(0, 1) * k(2, 3) - k(0, 2) * k(1, 3) + k(0, 3) * k(1, 2);
    const w4 = hippoSkewFrequencies(4);
    expect(Math.abs((w4[0]! * w4[1]!) ** 2 - pf * pf) / (pf * pf)).toBeLessThan(1e-10);
  });
});
