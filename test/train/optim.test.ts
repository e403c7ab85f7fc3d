// AdamW (src/train/optim.ts) against torch.optim.AdamW's update written out in float64: decoupled
// weight decay on matrices only, bias corrections, eps outside the square root, global-norm
// clipping as clip_grad_norm_ (scale clip / (norm + 1e-6) when below 1); a stack of two replicas
// with their own lr and clip updates each row as that replica alone; and a step frees its flat
// temporaries as it goes (no tensors left, and fewer bytes alive at once than the expression form).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Params } from '../../src/layers/params.js';
import { AdamW } from '../../src/train/optim.js';
import { expectClose } from '../helpers/close.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;
const WD = 0.1;

/** torch.optim.AdamW on flat float64 state, after clip_grad_norm_(clip) over all gradients. */
function torchAdamW(p: Float64Array[], m: Float64Array[], v: Float64Array[], g: Float64Array[], decay: boolean[], t: number, lr: number, clip: number): number {
  const norm = Math.sqrt(g.reduce((s, x) => s + x.reduce((a, b) => a + b * b, 0), 0));
  const scale = clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
  const bc1 = 1 - B1 ** t;
  const bc2 = 1 - B2 ** t;
  p.forEach((pi, k) => {
    for (let i = 0; i < pi.length; i++) {
      const gi = g[k]![i]! * scale;
      if (decay[k]) pi[i] = pi[i]! * (1 - lr * WD);
      m[k]![i] = B1 * m[k]![i]! + (1 - B1) * gi;
      v[k]![i] = B2 * v[k]![i]! + (1 - B2) * gi * gi;
      const denom = Math.sqrt(v[k]![i]!) / Math.sqrt(bc2) + EPS;
      pi[i] = pi[i]! - (lr / bc1) * (m[k]![i]! / denom);
    }
  });
  return norm;
}

function grads(step: number, sizes: number[], replica = 0): Float64Array[] {
  return sizes.map((n, k) => Float64Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + 1.9 * k + 0.3 * step + 2.1 * replica) * (k + 1)));
}

describe('AdamW', () => {
  it('follows torch.optim.AdamW with decoupled decay and clipping over three steps', async () => {
    for (const clip of [0, 1.0]) {
      const params = new Params(0);
      params.add('w', [3, 4], { kind: 'normal', std: 0.5 });
      params.add('b', [4], { kind: 'normal', std: 0.5 }, { decay: false });
      const opt = new AdamW(params, { betas: [B1, B2], eps: EPS, weightDecay: WD });
      const p = [Float64Array.from(params.vars.get('w')!.dataSync()), Float64Array.from(params.vars.get('b')!.dataSync())];
      const m = [new Float64Array(12), new Float64Array(4)];
      const v = [new Float64Array(12), new Float64Array(4)];
      for (let t = 1; t <= 3; t++) {
        const g = grads(t, [12, 4]);
        const want = torchAdamW(p, m, v, g, [true, false], t, 1e-2, clip);
        const gt = { w: tf.tensor(Float32Array.from(g[0]!), [3, 4]), b: tf.tensor(Float32Array.from(g[1]!), [4]) };
        const norm = opt.step(gt, 1e-2, clip);
        expect(norm.dataSync()[0]).toBeCloseTo(want, 4);
        tf.dispose([norm, gt.w, gt.b]);
        expectClose(params.vars.get('w')!.dataSync(), p[0]!, { name: `clip ${clip} w, step ${t}`, rtol: 1e-6 });
        expectClose(params.vars.get('b')!.dataSync(), p[1]!, { name: `clip ${clip} b, step ${t}`, rtol: 1e-6 });
      }
      opt.dispose();
      params.dispose();
    }
  });

  it('updates each stacked replica with its own lr and clip as that replica alone', () => {
    const params = new Params([0, 1]);
    params.add('w', [2, 3], { kind: 'normal', std: 0.5 });
    params.add('b', [3], { kind: 'normal', std: 0.5 }, { decay: false });
    const opt = new AdamW(params, { betas: [B1, B2], eps: EPS, weightDecay: WD });
    const lr = [1e-2, 3e-3];
    const clip = [0.5, 0];
    const rowsOf = (name: string, n: number): Float64Array[] => {
      const d = params.vars.get(name)!.dataSync();
      return [Float64Array.from(d.subarray(0, n)), Float64Array.from(d.subarray(n, 2 * n))];
    };
    const w = rowsOf('w', 6);
    const b = rowsOf('b', 3);
    const m = [0, 1].map(() => [new Float64Array(6), new Float64Array(3)]);
    const v = [0, 1].map(() => [new Float64Array(6), new Float64Array(3)]);
    for (let t = 1; t <= 2; t++) {
      const g = [0, 1].map((r) => grads(t, [6, 3], r));
      const want = [0, 1].map((r) => torchAdamW([w[r]!, b[r]!], m[r]!, v[r]!, g[r]!, [true, false], t, lr[r]!, clip[r]!));
      const gt = {
        w: tf.tensor(Float32Array.from([...g[0]![0]!, ...g[1]![0]!]), [2, 2, 3]),
        b: tf.tensor(Float32Array.from([...g[0]![1]!, ...g[1]![1]!]), [2, 3]),
      };
      const norms = opt.stepReplicas(gt, lr, clip);
      expectClose(norms.dataSync(), want, { name: `norms, step ${t}`, rtol: 1e-5 });
      tf.dispose([norms, gt.w, gt.b]);
      expectClose(params.vars.get('w')!.dataSync(), [...w[0]!, ...w[1]!], { name: `w, step ${t}`, rtol: 1e-6 });
      expectClose(params.vars.get('b')!.dataSync(), [...b[0]!, ...b[1]!], { name: `b, step ${t}`, rtol: 1e-6 });
    }
    opt.dispose();
    params.dispose();
  });

  it('leaves no tensors behind and holds few flat copies at once', () => {
    const params = new Params(0);
    for (let i = 0; i < 4; i++) params.add(`w${i}`, [64, 64], { kind: 'normal', std: 0.1 });
    const opt = new AdamW(params, { betas: [B1, B2], eps: EPS, weightDecay: WD });
    const P = 4 * 64 * 64 * 4; // bytes of the flat vector
    const gs = Object.fromEntries([...params.vars.keys()].map((n, i) => [n, tf.fill([64, 64], 0.01 * (i + 1))]));
    opt.step(gs, 1e-3, 1).dispose();
    const before = tf.memory();
    const prof = tf.tidy(() => opt.step(gs, 1e-3, 1));
    prof.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    // Peak bytes of a step beyond what was alive before it: the expression form kept ~22 flat copies.
    let peak = 0;
    const engine = tf.engine() as unknown as { state: { numBytes: number } };
    const base = engine.state.numBytes;
    const origRun = tf.engine().runKernel.bind(tf.engine());
    (tf.engine() as unknown as { runKernel: typeof origRun }).runKernel = ((...a: Parameters<typeof origRun>) => {
      const out = origRun(...a);
      peak = Math.max(peak, engine.state.numBytes - base);
      return out;
    }) as typeof origRun;
    try {
      opt.step(gs, 1e-3, 1).dispose();
    } finally {
      (tf.engine() as unknown as { runKernel: typeof origRun }).runKernel = origRun;
    }
    expect(peak).toBeGreaterThan(P);
    expect(peak / P, 'peak flat copies alive at once').toBeLessThan(8);
    tf.dispose(Object.values(gs));
    opt.dispose();
    params.dispose();
  });
});
