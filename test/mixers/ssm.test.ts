// Independent checks of the SSM mixers (s4d, dss, h3, s5, mamba): float64 references written
// from the papers / upstream code (S4D and DSS through their convolution kernels K_l; H3, S5 and
// Mamba through their upstream `step` recurrences) and the published inits. Recurrence, state
// size, option errors and LM training: ssm_backbone.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { MIXERS } from '../../src/mixers/registry.js';
import type { TokenMixer } from '../../src/mixers/types.js';
import { Params } from '../../src/layers/params.js';
import { hippoSkewFrequencies } from '../../src/ops/diag_ssm/index.js';
import { expectClose } from '../helpers/close.js';

const [B, T] = [2, 9];

beforeAll(async () => {
  await initBackend('cpu');
});

// ---- float64 helpers -------------------------------------------------------------------------
type C = [number, number];
const cmul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const cdiv = (a: C, b: C): C => {
  const n = b[0] ** 2 + b[1] ** 2;
  return [(a[0] * b[0] + a[1] * b[1]) / n, (a[1] * b[0] - a[0] * b[1]) / n];
};
const cexp = (a: C): C => [Math.exp(a[0]) * Math.cos(a[1]), Math.exp(a[0]) * Math.sin(a[1])];
const cpow = (a: C, j: number): C => (j === 0 ? [1, 0] : cmul(a, cpow(a, j - 1)));
const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const softplus = (x: number): number => Math.log1p(Math.exp(x));
const silu = (x: number): number => x * sigmoid(x);
/** v [in] · W [in, out] (+ b) with W row-major. */
const vecMat = (v: number[], w: ArrayLike<number>, out: number, b?: ArrayLike<number>): number[] =>
  Array.from({ length: out }, (_, j) => v.reduce((s, vi, i) => s + vi * w[i * out + j]!, b?.[j] ?? 0));

function build(name: string, d: number, raw: Record<string, unknown> = {}, perturb = true, seed = 1): { mixer: TokenMixer; params: Params } {
  const def = MIXERS[name]!;
  const params = new Params(seed);
  const mixer = def.create(def.options.parse(raw) as never, { dModel: d, layer: 0, nLayers: 2, params: params.scope('m'), maxSeqLen: 16 });
  if (perturb) tf.tidy(() => params.vars.forEach((v) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', seed)))));
  return { mixer, params };
}
const P = (params: Params, n: string): Float32Array => params.vars.get(`m.${n}`)!.dataSync() as Float32Array;

async function compare(name: string, mixer: TokenMixer, d: number, ref: (x: number[][][]) => number[][][], rtol = 1e-4): Promise<void> {
  const x = tf.randomNormal([B, T, d], 0, 1, 'float32', 4) as tf.Tensor3D;
  const got = tf.tidy(() => mixer.forward(x).y);
  const want = ref((await x.array()) as number[][][]);
  expectClose(await got.data(), want.flat(2), { name, rtol });
  tf.dispose([x, got]);
}

/** y_t = Σ_{j≤t} K_j[h] x_{t−j}[h] + D_h x_t[h] for one batch row. */
const convolve = (x: number[][], K: number[][], Dsk: ArrayLike<number>): number[][] =>
  x.map((_, t) => x[t]!.map((_, h) => Dsk[h]! * x[t]![h]! + Array.from({ length: t + 1 }, (_, j) => K[j]![h]! * x[t - j]![h]!).reduce((a, b) => a + b, 0)));

describe('s4d', () => {
  const d = 6;
  const cases = [
    { init: 'lin', discretization: 'zoh' },
    { init: 'lin', discretization: 'bilinear' },
    { init: 'real', discretization: 'bilinear' }, // Δ = 0.6, A_n down to −8: Ā < 0 for Δ|A| > 2
  ] as const;
  for (const c of cases) {
    it(`${c.init}/${c.discretization}: equals the convolution-kernel view K_j = 2Re(C Ā^j B̄) (then GELU, GLU)`, async () => {
      const o = { ...c, d_state: 8 };
      const { mixer, params } = build('s4d', d, o);
      if (c.init === 'real') params.vars.get('m.kernel.log_dt')!.assign(tf.fill([d], Math.log(0.6)));
      const lin = c.init === 'lin';
      const M = lin ? 4 : 8;
      const names = ['kernel.log_dt', 'kernel.log_A_real', 'kernel.B', 'kernel.C', 'D', 'output_linear.0.weight', 'output_linear.0.bias'];
      const [logDt, logAr, bP, cP, Dsk, W, bias] = names.map((n) => P(params, n));
      const aIm = lin ? P(params, 'kernel.A_imag') : undefined;
      const K = Array.from({ length: T }, (_, j) =>
        Array.from({ length: d }, (_, h) => {
          const dt = Math.exp(logDt![h]!);
          let s = 0;
          for (let n = 0; n < M; n++) {
            const i = h * M + n;
            const A: C = [-Math.exp(logAr![i]!), aIm?.[i] ?? 0];
            const Bn: C = lin ? [bP![2 * i]!, bP![2 * i + 1]!] : [bP![i]!, 0];
            const Cn: C = lin ? [cP![2 * i]!, cP![2 * i + 1]!] : [cP![i]!, 0];
            const dA: C = [dt * A[0], dt * A[1]];
            const [aBar, bBar] =
              c.discretization === 'zoh'
                ? [cexp(dA), cmul(cdiv([cexp(dA)[0] - 1, cexp(dA)[1]], A), Bn)]
                : [cdiv([1 + dA[0] / 2, dA[1] / 2], [1 - dA[0] / 2, -dA[1] / 2]), cdiv([dt * Bn[0], dt * Bn[1]], [1 - dA[0] / 2, -dA[1] / 2])];
            s += (lin ? 2 : 1) * cmul(Cn, cmul(cpow(aBar, j), bBar))[0];
          }
          return s;
        }),
      );
      await compare(`s4d ${c.init}/${c.discretization}`, mixer, d, (x) =>
        x.map((xb) =>
          convolve(xb, K, Dsk!).map((yt) => {
            const z = vecMat(yt.map(gelu), W!, 2 * d, bias);
            return Array.from({ length: d }, (_, i) => z[i]! * sigmoid(z[d + i]!));
          }),
        ),
      );
      params.dispose();
    });
  }
});

describe('dss', () => {
  const d = 4;
  for (const version of ['softmax', 'exp'] as const) {
    it(`${version}: equals K_l = Re(Σ W Λ⁻¹ (e^{ΔΛ} − 1)·${version === 'softmax' ? '/(e^{LΔΛ} − 1)·' : ''}e^{lΔΛ}), Re Λ > 0 included`, async () => {
      const N = 5;
      const L = 16;
      const { mixer, params } = build('dss', d, { version, d_state: N });
      const lamVar = params.vars.get('m.kernel.Lambda');
      if (version === 'softmax') tf.tidy(() => lamVar!.assign(tf.add(lamVar!, tf.tensor2d([[0.9, 0], [0, 0], [0.4, 0], [0, 0], [0, 0]]))));
      const [logDt, Wp, Dsk, W, bias] = ['kernel.log_dt', 'kernel.W', 'D', 'output_linear.weight', 'output_linear.bias'].map((n) => P(params, n));
      const lam: C[] =
        version === 'softmax'
          ? Array.from({ length: N }, (_, n) => [P(params, 'kernel.Lambda')[2 * n]!, P(params, 'kernel.Lambda')[2 * n + 1]!])
          : Array.from({ length: N }, (_, n) => [-Math.exp(P(params, 'kernel.Lambda_log_neg_re')[n]!), P(params, 'kernel.Lambda_im')[n]!]);
      if (version === 'softmax') expect(lam.filter((l) => l[0] > 0).length).toBeGreaterThan(0);
      const K = Array.from({ length: T }, (_, l) =>
        Array.from({ length: d }, (_, h) => {
          let s = 0;
          for (let n = 0; n < N; n++) {
            const w: C = [Math.exp(logDt![2 * h]!) * lam[n]![0], Math.exp(logDt![2 * h + 1]!) * lam[n]![1]];
            const em1 = (z: C): C => [cexp(z)[0] - 1, cexp(z)[1]];
            let coef = cdiv(em1(w), lam[n]!);
            if (version === 'softmax') coef = cdiv(coef, em1([L * w[0], L * w[1]]));
            s += cmul(cmul([Wp![2 * (h * N + n)]!, Wp![2 * (h * N + n) + 1]!], coef), cexp([l * w[0], l * w[1]]))[0];
          }
          return s;
        }),
      );
      await compare(`dss ${version}`, mixer, d, (x) => x.map((xb) => convolve(xb, K, Dsk!).map((yt) => vecMat(yt.map(gelu), W!, d, bias))));
      params.dispose();
    });
  }

  it('initialises Λ to −1/2 + iω, the HiPPO skew spectrum (DSS hippo_skew_evals(2N)[:N] − .5)', () => {
    const { params } = build('dss', 4, { d_state: 3 }, false);
    const lam = P(params, 'kernel.Lambda');
    const w = hippoSkewFrequencies(6);
    for (let n = 0; n < 3; n++) {
      expect(lam[2 * n]).toBe(-0.5);
      expect(lam[2 * n + 1]).toBeCloseTo(w[n]!, 5);
    }
    params.dispose();
  });
});

describe('h3', () => {
  it('head_dim 2 equals a float64 port of h3.py `step` (shift register, bilinear S4D-Lin, q contraction)', async () => {
    const [d, Pd, N] = [8, 2, 4];
    const H = d / Pd;
    const M = N / 2;
    const { mixer, params } = build('h3', d, { head_dim: Pd, d_state: N });
    const g = (n: string): Float32Array => P(params, n);
    const [qW, qB, kW, kB, vW, vB, sB, sC, sD, logDt, logAr, aIm, bP, cP, Dh, oW, oB] = [
      'q_proj.weight', 'q_proj.bias', 'k_proj.weight', 'k_proj.bias', 'v_proj.weight', 'v_proj.bias', 'ssm_k_kernel.kernel.B', 'ssm_k_kernel.kernel.C', 'ssm_k_D',
      'kernel.kernel.log_dt', 'kernel.kernel.log_A_real', 'kernel.kernel.A_imag', 'kernel.kernel.B', 'kernel.kernel.C', 'D', 'output_linear.weight', 'output_linear.bias',
    ].map(g);
    await compare('h3', mixer, d, (x) =>
      x.map((xb) => {
        let shift = Array.from({ length: d }, () => new Array<number>(N).fill(0));
        const hs: C[][] = Array.from({ length: H * Pd * Pd }, () => Array.from({ length: M }, (): C => [0, 0]));
        return xb.map((xt) => {
          const q = vecMat(xt, qW!, d, qB);
          const k = vecMat(xt, kW!, d, kB);
          const v = vecMat(xt, vW!, d, vB);
          shift = shift.map((s, c) => s.map((_, n) => (n === 0 ? 0 : s[n - 1]!) + sB![c * N + n]! * k[c]!));
          const ks = k.map((kc, c) => shift[c]!.reduce((a, s, n) => a + sC![c * N + n]! * s, 0) + kc * sD![c]!);
          const out = new Array<number>(d).fill(0);
          for (let h = 0; h < H; h++) {
            const dt = Math.exp(logDt![h]!);
            for (let i = 0; i < Pd; i++) {
              for (let j = 0; j < Pd; j++) {
                const kv = ks[h * Pd + i]! * v[h * Pd + j]!;
                const st = hs[(h * Pd + i) * Pd + j]!;
                let y = Dh![h]! * kv;
                for (let n = 0; n < M; n++) {
                  const m = h * M + n;
                  const dA: C = [-dt * Math.exp(logAr![m]!), dt * aIm![m]!];
                  const den: C = [1 - dA[0] / 2, -dA[1] / 2];
                  const dB = cdiv([dt * bP![2 * m]!, dt * bP![2 * m + 1]!], den);
                  st[n] = cmul(cdiv([1 + dA[0] / 2, dA[1] / 2], den), st[n]!).map((z, r) => z + dB[r]! * kv) as C;
                  y += 2 * cmul([cP![2 * m]!, cP![2 * m + 1]!], st[n]!)[0];
                }
                out[j * H + h]! += q[h * Pd + i]! * y; // rearrange 'b d h -> b (d h)'
              }
            }
          }
          return vecMat(out, oW!, d, oB);
        });
      }),
    );
    params.dispose();
  });
});

describe('s5', () => {
  it('equals a float64 port of S5SSM (ZOH, conj_sym, clip_eigs) + half_glu1, one step at a time', async () => {
    const [d, Ps] = [4, 16];
    const ph = Ps / 2;
    const { mixer, params } = build('s5', d, { d_state: Ps, blocks: 2 });
    const [lr, li, bP, cP, Dsk, ls, w2, b2] = ['Lambda_re', 'Lambda_im', 'B', 'C', 'D', 'log_step', 'out2.kernel', 'out2.bias'].map((n) => P(params, n));
    await compare('s5', mixer, d, (x) =>
      x.map((xb) => {
        const h: C[] = Array.from({ length: ph }, (): C => [0, 0]);
        return xb.map((xt) => {
          for (let p = 0; p < ph; p++) {
            const lam: C = [Math.min(lr![p]!, -1e-4), li![p]!];
            const step = Math.exp(ls![p]!);
            const aBar = cexp([lam[0] * step, lam[1] * step]);
            const coef = cdiv([aBar[0] - 1, aBar[1]], lam);
            const bu = xt.reduce((s: C, xh, k): C => [s[0] + bP![2 * (p * d + k)]! * xh, s[1] + bP![2 * (p * d + k) + 1]! * xh], [0, 0]);
            const upd = cmul(coef, bu);
            h[p] = cmul(aBar, h[p]!).map((z, r) => z + upd[r]!) as C;
          }
          const y = xt.map((xh, k) => Dsk![k]! * xh + 2 * h.reduce((s, hp, p) => s + cmul([cP![2 * (k * ph + p)]!, cP![2 * (k * ph + p) + 1]!], hp)[0], 0));
          const gv = y.map(gelu);
          const gate = vecMat(gv, w2!, d, b2);
          return gv.map((v, k) => v * sigmoid(gate[k]!));
        });
      }),
    );
    params.dispose();
  });

  it('initialises Λ block-wise to HiPPO-N eigenvalues −1/2 − iω and Δ in [dt_min, dt_max]', () => {
    const { params } = build('s5', 4, { d_state: 16, blocks: 2 }, false);
    const w = hippoSkewFrequencies(8);
    const li = P(params, 'Lambda_im');
    for (let p = 0; p < 8; p++) expect(li[p]).toBeCloseTo(-w[p % 4]!, 5);
    expect([...P(params, 'Lambda_re')].every((v) => v === -0.5)).toBe(true);
    expect([...P(params, 'log_step')].every((v) => Math.exp(v) >= 1e-3 - 1e-9 && Math.exp(v) <= 0.1 + 1e-9)).toBe(true);
    params.dispose();
  });
});

describe('mamba', () => {
  it('initialises A_log = log(1..N) (S4D-Real), D = 1 and softplus(dt bias) in [dt_min, dt_max]', () => {
    const { params } = build('mamba', 8, {}, false);
    const aLog = P(params, 'A_log');
    expect(aLog.length).toBe(16 * 16);
    for (let i = 0; i < aLog.length; i++) expect(aLog[i]).toBeCloseTo(Math.log((i % 16) + 1), 6);
    expect([...P(params, 'D')].every((v) => v === 1)).toBe(true);
    expect([...P(params, 'dt_proj.bias')].every((b) => softplus(b) >= 1e-3 * 0.999 && softplus(b) <= 0.1 * 1.001)).toBe(true);
    params.dispose();
  });

  it('equals a float64 port of mamba_simple `step` (conv state, selective scan, SiLU gate)', async () => {
    const [d, E, N, R, c] = [8, 16, 4, 1, 4];
    const { mixer, params } = build('mamba', d, { d_state: N });
    const names = ['in_proj.weight', 'conv1d.weight', 'conv1d.bias', 'x_proj.weight', 'dt_proj.weight', 'dt_proj.bias', 'A_log', 'D', 'out_proj.weight'];
    const [inW, cw, cb, xW, dtW, dtB, aLog, Dsk, outW] = names.map((n) => P(params, n));
    await compare('mamba', mixer, d, (x) =>
      x.map((xb) => {
        const convState = Array.from({ length: c }, () => new Array<number>(E).fill(0));
        const h = Array.from({ length: E }, () => new Array<number>(N).fill(0));
        return xb.map((xt) => {
          const xz = vecMat(xt, inW!, 2 * E);
          convState.shift();
          convState.push(xz.slice(0, E));
          const u = Array.from({ length: E }, (_, e) => silu(convState.reduce((s, row, j) => s + row[e]! * cw![j * E + e]!, cb![e]!)));
          const xdb = vecMat(u, xW!, R + 2 * N);
          const dt = vecMat(xdb.slice(0, R), dtW!, E, dtB).map(softplus);
          const y = u.map((ue, e) => {
            let s = Dsk![e]! * ue;
            for (let n = 0; n < N; n++) {
              h[e]![n] = h[e]![n]! * Math.exp(-dt[e]! * Math.exp(aLog![e * N + n]!)) + ue * dt[e]! * xdb[R + n]!;
              s += h[e]![n]! * xdb[R + N + n]!;
            }
            return s * silu(xz[E + e]!);
          });
          return vecMat(y, outW!, d);
        });
      }),
    );
    params.dispose();
  });
});
