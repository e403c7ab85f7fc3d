// QT-ViT has no published code, so its layer is checked against the paper's formula evaluated
// directly in float64: weights sim(q_t, k_i) = ½(α² Σ q²k² + β²(2/√d) q·k + γ² + 1) over the
// visible keys, o_t = Σ_i sim v_i / Σ_i sim, y = o W_O; causal and non-causal, β = 0 and learned.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Params } from '../../src/layers/params.js';
import { qtVit } from '../../src/mixers/qt_vit.js';

const D = 16;
const H = 2;
const d = D / H;
const B = 2;
const T = 9;

beforeAll(async () => {
  await initBackend('cpu');
});

/** [rows, cols] row-major weight [in, out] applied to x [T, in] → [T, out], in float64. */
const matmul = (x: number[][], w: Float32Array, out: number): number[][] => x.map((row) => Array.from({ length: out }, (_, j) => row.reduce((s, v, i) => s + v * w[i * out + j]!, 0)));

describe('qt_vit', () => {
  it.each([
    ['causal, β = 0', true, 'zero'],
    ['causal, β learned', true, 'learned'],
    ['non-causal, β = 0', false, 'zero'],
  ] as const)('%s: equals the paper formula evaluated in float64', async (_label, causal, betaMode) => {
    const params = new Params(2);
    const opts = qtVit.options.parse({ num_heads: H, beta: betaMode, init_std: 0.3 });
    const ctx = { dModel: D, layer: 0, nLayers: 1, params: params.scope(''), maxSeqLen: 32 };
    const mixer = causal ? qtVit.create(opts as never, ctx) : qtVit.createNonCausal!(opts as never, ctx);
    // Non-default α, γ, β per head so each term is exercised.
    params.vars.get('alpha')!.assign(tf.tensor1d([0.7, 1.3]));
    params.vars.get('gamma')!.assign(tf.tensor1d([0.5, -1.1]));
    params.vars.get('beta')?.assign(tf.tensor1d([0.9, 0.4]));
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 11) as tf.Tensor3D;
    const y = (await mixer.forward(x).y.array()) as number[][][];
    const w = (n: string) => params.vars.get(`${n}.weight`)!.dataSync() as Float32Array;
    const al = [0.7, 1.3];
    const ga = [0.5, -1.1];
    const be = betaMode === 'learned' ? [0.9, 0.4] : [0, 0];
    const xs = (await x.array()) as number[][][];
    let maxErr = 0;
    let scale = 0;
    for (let b = 0; b < B; b++) {
      const q = matmul(xs[b]!, w('q_proj'), D);
      const k = matmul(xs[b]!, w('k_proj'), D);
      const v = matmul(xs[b]!, w('v_proj'), D);
      const o: number[][] = Array.from({ length: T }, () => new Array<number>(D).fill(0));
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          let den = 0;
          const num = new Array<number>(d).fill(0);
          for (let i = 0; i < (causal ? t + 1 : T); i++) {
            let sq = 0;
            let dot = 0;
            for (let c = h * d; c < (h + 1) * d; c++) {
              sq += q[t]![c]! ** 2 * k[i]![c]! ** 2;
              dot += q[t]![c]! * k[i]![c]!;
            }
            const sim = 0.5 * (al[h]! ** 2 * sq + be[h]! ** 2 * (2 / Math.sqrt(d)) * dot + ga[h]! ** 2 + 1);
            den += sim;
            for (let c = 0; c < d; c++) num[c]! += sim * v[i]![h * d + c]!;
          }
          for (let c = 0; c < d; c++) o[t]![h * d + c] = num[c]! / (den + 1e-6);
        }
      }
      const ref = matmul(o, w('o_proj'), D);
      for (let t = 0; t < T; t++)
        for (let c = 0; c < D; c++) {
          maxErr = Math.max(maxErr, Math.abs(y[b]![t]![c]! - ref[t]![c]!));
          scale = Math.max(scale, Math.abs(ref[t]![c]!));
        }
    }
    expect(scale).toBeGreaterThan(0.05);
    expect(maxErr / scale).toBeLessThan(1e-5);
    x.dispose();
    params.dispose();
  });
});
