// The LinRNN mixers (paper Tab. A3: hgrn, rwkv4, lru, griffin), checked independently of their ops:
// each mixer against a direct float64 JS evaluation of its equations (RWKV-4's WKV as the explicit
// weighted average, GLRU with its depth lower bound, LRU as a complex recurrence, the RG-LRU with
// a_t's range and the sqrt(1 − a²) input scaling), LRU's and Griffin's ring inits, and each mixer
// in the causal LM reducing the loss of a copy-previous-token batch in 10 AdamW steps.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { griffin, rgLru } from '../../src/mixers/griffin.js';
import { hgrn } from '../../src/mixers/hgrn.js';
import { lru } from '../../src/mixers/lru.js';
import { rwkv4 } from '../../src/mixers/rwkv4.js';
import type { MixerDef, TokenMixer } from '../../src/mixers/types.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { Params } from '../../src/layers/params.js';
import { IGNORE_INDEX, type Batch } from '../../src/tasks/types.js';
import { supervisedLoss } from '../../src/train/loss.js';
import { AdamW } from '../../src/train/optim.js';
import { expectClose } from '../helpers/close.js';

const [B, T, D] = [2, 9, 16];

beforeAll(async () => {
  await initBackend('cpu');
});

type Vec = Float64Array;
const sig = (z: number): number => 1 / (1 + Math.exp(-z));
const silu = (z: number): number => z * sig(z);
const softplus = (z: number): number => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));

/** x [in] · W [in, out] (+ b) in float64. */
function mv(x: ArrayLike<number>, w: ArrayLike<number>, out: number, b?: ArrayLike<number>): Vec {
  const n = x.length;
  const y = new Float64Array(out);
  for (let j = 0; j < out; j++) {
    let s = b === undefined ? 0 : b[j]!;
    for (let i = 0; i < n; i++) s += x[i]! * w[i * out + j]!;
    y[j] = s;
  }
  return y;
}

/** A mixer with every parameter perturbed (zero inits would hide paths), its params by short name, and x. */
function setup(def: MixerDef, opts: Record<string, unknown>, layer = 0, nLayers = 2): { mixer: TokenMixer; p: (n: string) => Float32Array; x: tf.Tensor3D; xs: Float32Array; params: Params } {
  const params = new Params(4);
  const mixer = def.create(def.options.parse(opts) as never, { dModel: D, layer, nLayers, params: params.scope('m'), maxSeqLen: 64 });
  tf.tidy(() => {
    for (const v of params.vars.values()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 17)));
  });
  const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 23) as tf.Tensor3D;
  return { mixer, p: (n) => params.vars.get(`m.${n}`)!.dataSync() as Float32Array, x, xs: x.dataSync() as Float32Array, params };
}

/** Run the mixer (parallel form) and compare with ref(b, t) → y [D]. */
function compareWith(mixer: TokenMixer, x: tf.Tensor3D, ref: (b: number) => Vec[], name: string): void {
  const y = tf.tidy(() => mixer.forward(x).y);
  const want = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) ref(b).forEach((row, t) => want.set(row, (b * T + t) * D));
  expectClose(y.dataSync(), want, { name, rtol: 2e-5 });
  y.dispose();
}

const row = (xs: Float32Array, b: number, t: number): Float32Array => xs.subarray((b * T + t) * D, (b * T + t + 1) * D);

describe('linrnn mixers against float64 equations', () => {
  it('rwkv4: token shift, then σ(r) ⊙ WKV as the explicit weighted average with bonus u', () => {
    const { mixer, p, x, xs, params } = setup(rwkv4 as unknown as MixerDef, { chunk_size: 4 });
    const [decay, first, mk, mv_, mr] = ['time_decay', 'time_first', 'time_mix_k', 'time_mix_v', 'time_mix_r'].map(p);
    const [wk, wv, wr, wo] = ['key.weight', 'value.weight', 'receptance.weight', 'output.weight'].map(p);
    compareWith(mixer, x, (b) => {
      const ks: Vec[] = [];
      const vs: Vec[] = [];
      const out: Vec[] = [];
      for (let t = 0; t < T; t++) {
        const cur = row(xs, b, t);
        const prev = t > 0 ? row(xs, b, t - 1) : new Float32Array(D);
        const mix = (mu: Float32Array): Vec => Float64Array.from(cur, (c, i) => c * mu[i]! + prev[i]! * (1 - mu[i]!));
        ks.push(mv(mix(mk!), wk!, D));
        vs.push(mv(mix(mv_!), wv!, D));
        const r = mv(mix(mr!), wr!, D);
        const wkv = Float64Array.from({ length: D }, (_, c) => {
          const w = Math.exp(decay![c]!);
          const terms = ks.map((k, s) => (s < t ? -(t - 1 - s) * w + k[c]! : first![c]! + k[c]!));
          const m = Math.max(...terms);
          const num = terms.reduce((a, e, s) => a + Math.exp(e - m) * vs[s]![c]!, 0);
          return num / terms.reduce((a, e) => a + Math.exp(e - m), 0);
        });
        out.push(mv(Float64Array.from(wkv, (val, c) => sig(r[c]!) * val), wo!, D));
      }
      return out;
    }, 'rwkv4 y');
    x.dispose();
    params.dispose();
  });

  it('hgrn: GLRU with the depth lower bound (layer 1 of 2 ⇒ f ≥ 1/2), tied and separate input gates', () => {
    for (const inputGate of ['tied', 'separate'] as const) {
      const { mixer, p, x, xs, params } = setup(hgrn as unknown as MixerDef, { input_gate: inputGate }, 1, 2);
      const lb = 0.5;
      const pr = (n: string): Float32Array => p(n);
      compareWith(mixer, x, (b) => {
        let h: Vec = new Float64Array(D);
        const out: Vec[] = [];
        for (let t = 0; t < T; t++) {
          const xt = row(xs, b, t);
          const f = Float64Array.from(mv(xt, pr('f_proj.weight'), D, pr('f_proj.bias')), (z) => lb + (1 - lb) * sig(z));
          expect(Math.min(...f)).toBeGreaterThanOrEqual(lb);
          const i = inputGate === 'tied' ? f.map((fv) => 1 - fv) : mv(xt, pr('input_gate_proj.weight'), D, pr('input_gate_proj.bias')).map(sig);
          const c = mv(xt, pr('i_proj.weight'), D, pr('i_proj.bias')).map(silu);
          h = h.map((hv, j) => f[j]! * hv + i[j]! * c[j]!);
          const rms = Math.sqrt(h.reduce((a, v) => a + v * v, 0) / D + 1e-5);
          const g = mv(xt, pr('g_proj.weight'), D, pr('g_proj.bias')).map(silu);
          out.push(mv(h.map((hv, j) => (hv / rms) * pr('g_norm.weight')[j]! * g[j]!), pr('o_proj.weight'), D));
        }
        return out;
      }, `hgrn(${inputGate}) y`);
      x.dispose();
      params.dispose();
    }
  });

  it('lru: ring init of |λ|, γ = sqrt(1 − |λ|²), and y = Re(C h) + D ⊙ x with h a complex recurrence', () => {
    const o = { state_ratio: 0.75, r_min: 0.4, r_max: 0.95 };
    const fresh = new Params(9);
    lru.create(lru.options.parse(o), { dModel: D, layer: 0, nLayers: 1, params: fresh.scope('m'), maxSeqLen: 64 });
    const mag = Array.from(fresh.vars.get('m.nu_log')!.dataSync(), (nu) => Math.exp(-Math.exp(nu)));
    expect(mag.length).toBe(12);
    for (const r of mag) expect(r >= 0.4 - 1e-6 && r <= 0.95 + 1e-6, `|λ| = ${r} outside [0.4, 0.95]`).toBe(true);
    const gamma = Array.from(fresh.vars.get('m.gamma_log')!.dataSync(), Math.exp);
    mag.forEach((r, i) => expect(Math.abs(gamma[i]! - Math.sqrt(1 - r * r))).toBeLessThan(1e-5));
    for (const th of fresh.vars.get('m.theta_log')!.dataSync()) expect(Math.exp(th)).toBeLessThanOrEqual(2 * Math.PI + 1e-5);
    fresh.dispose();

    const { mixer, p, x, xs, params } = setup(lru as unknown as MixerDef, o);
    const n = 12;
    const [nu, th, gl, bRe, bIm, cRe, cIm, dk] = ['nu_log', 'theta_log', 'gamma_log', 'B_re', 'B_im', 'C_re', 'C_im', 'D'].map(p);
    compareWith(mixer, x, (b) => {
      let [hr, hi]: [Vec, Vec] = [new Float64Array(n), new Float64Array(n)];
      const out: Vec[] = [];
      for (let t = 0; t < T; t++) {
        const xt = row(xs, b, t);
        const [ur, ui] = [mv(xt, bRe!, n), mv(xt, bIm!, n)];
        const nr = hr.map((h, j) => {
          const [m, a] = [Math.exp(-Math.exp(nu![j]!)), Math.exp(th![j]!)];
          return m * Math.cos(a) * h - m * Math.sin(a) * hi[j]! + Math.exp(gl![j]!) * ur[j]!;
        });
        hi = hi.map((h, j) => {
          const [m, a] = [Math.exp(-Math.exp(nu![j]!)), Math.exp(th![j]!)];
          return m * Math.sin(a) * hr[j]! + m * Math.cos(a) * h + Math.exp(gl![j]!) * ui[j]!;
        });
        hr = nr;
        const re = mv(hr, cRe!, D);
        const im = mv(hi, cIm!, D);
        out.push(Float64Array.from({ length: D }, (_, j) => re[j]! - im[j]! + dk![j]! * xt[j]!));
      }
      return out;
    }, 'lru y');
    x.dispose();
    params.dispose();
  });

  it('griffin: σ(Λ) on the ring, a_t ∈ [σ(Λ)^c, 1], sqrt(1 − a_t²)-scaled inputs, RG-LRU = float64 loop', () => {
    const fresh = new Params(5);
    griffin.create(griffin.options.parse({}), { dModel: D, layer: 0, nLayers: 1, params: fresh.scope('m'), maxSeqLen: 64 });
    for (const a of fresh.vars.get('m.rg_lru.a_param')!.dataSync()) {
      const base = Math.exp(-softplus(a)); // σ(Λ)
      expect(base >= 0.9 - 1e-6 && base <= 0.999 + 1e-6, `σ(Λ) = ${base}`).toBe(true);
    }
    fresh.dispose();

    const c = 8;
    const gen = (seed: number): tf.Tensor3D => tf.randomNormal([B, T, D], 0, 2, 'float32', seed) as tf.Tensor3D;
    const [u, zx, za] = [gen(1), gen(2), gen(3)];
    const aParam = tf.randomUniform([D], -3, 3, 'float32', 4) as tf.Tensor1D;
    const r = rgLru(u, zx, za, aParam, c, { wantState: true });
    const [h, logA, us, xs, as, ap] = [r.h, r.logA, u, zx, za, aParam].map((t) => t.dataSync());
    const want = new Float64Array(B * T * D);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < D; j++) {
        let hv = 0;
        const base = Math.exp(-softplus(ap![j]!)); // σ(Λ)
        for (let t = 0; t < T; t++) {
          const i = (b * T + t) * D + j;
          const a = Math.pow(base, c * sig(as![i]!));
          const got = Math.exp(logA![i]!);
          expect(got).toBeGreaterThanOrEqual(Math.pow(base, c) * (1 - 1e-5));
          expect(got).toBeLessThanOrEqual(1);
          expect(Math.abs(got - a)).toBeLessThan(1e-5);
          const scaled = Math.sqrt(1 - a * a) * sig(xs![i]!) * us![i]!;
          // From a zero state the first output is exactly the scaled input.
          if (t === 0) expect(Math.abs(h![i]! - scaled)).toBeLessThan(1e-5 * (1 + Math.abs(scaled)));
          hv = a * hv + scaled;
          want[i] = hv;
        }
      }
    }
    expectClose(h!, want, { name: 'rg-lru h', rtol: 1e-5 });
    tf.dispose([u, zx, za, aParam, r.h, r.logA, r.state!]);
  });
});

describe('linrnn mixers train in the causal LM', () => {
  // Copy the previous token: only a mixer can solve it (labels[t] = ids[t−1]).
  const [Bt, Tt, V] = [8, 16, 16];
  const ids = new Int32Array(Bt * Tt);
  let s = 12345;
  for (let i = 0; i < ids.length; i++) ids[i] = (s = (s * 1103515245 + 12345) >>> 0) % V;
  const labels = Int32Array.from(ids, (_, i) => (i % Tt === 0 ? IGNORE_INDEX : ids[i - 1]!));
  const batch: Batch = { ids, labels, batch: Bt, seqLen: Tt };

  const defs = { hgrn, rwkv4, lru, griffin } as unknown as Record<string, MixerDef>;
  for (const [name, def] of Object.entries(defs)) {
    it(`${name}: 10 AdamW steps lower the loss on a fixed batch; decoding = parallel logits; state size`, async () => {
      const cfg = { ...lmSchema.parse({ d_model: 32, n_layers: 2, mixer: { name }, channel_mixer: { name: 'identity' }, max_seq_len: Tt }), vocab_size: V } as LmConfig;
      const model = new CausalLM(cfg, 7);
      const optim = new AdamW(model.params, { betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.01 });
      const vars = [...model.params.vars.values()];
      const losses: number[] = [];
      for (let step = 0; step < 10; step++) {
        const { value, grads } = tf.variableGrads(() => {
          const sup = model.supervised(batch, { training: true });
          return supervisedLoss(sup);
        }, vars);
        losses.push((await value.data())[0]!);
        const named: Record<string, tf.Tensor> = {};
        for (const [vn, g] of Object.entries(grads)) named[model.params.byVarName.get(vn)!] = g;
        optim.step(named, 1e-2, 1).dispose();
        value.dispose();
        tf.dispose(Object.values(grads));
      }
      console.log(`[train] ${name}: loss ${losses[0]!.toFixed(4)} → ${losses[9]!.toFixed(4)}`);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[9]!).toBeLessThan(losses[0]! - 0.1);
      // The trained model decodes one token at a time to the same logits as one parallel pass.
      const seq = [Array.from(ids.subarray(0, Tt))];
      const full = await model.logits(seq);
      const dec = model.decoder();
      const pre = await dec.prefill([seq[0]!.slice(0, 5)]);
      expect(dec.stateFloats()).toBe(cfg.n_layers * def.stateSize(def.options.parse({}), 32));
      const steps = [];
      for (let t = 5; t < Tt; t++) steps.push((await dec.step([seq[0]![t]!]))[0]!);
      dec.dispose();
      expectClose([...pre[0]!, ...steps].flat(), full[0]!.flat(), { name: `${name} decode logits`, rtol: 1e-4 });
      optim.dispose();
      model.dispose();
    });
  }
});
