// The tiled WebGPU matrix product (src/backend/kernels/matmul_webgpu.ts) on a real WebGPU device
// (CI: lavapipe): every tile configuration, both transposes, sizes that are not tile multiples,
// batch broadcasting, split K, rank-4 operands, gradients, the fallback to tfjs's kernels, and no leaks.
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { shutdownBackend, takeGpuError } from '../../src/backend/index.js';
import { pickSplits, pickTile, setTiledMatmul, TILES, tiledMatmulLaunches, type MatmulDims } from '../../src/backend/kernels/matmul_webgpu.js';
import { benchMatmul, parseMatmulSpec } from '../../src/bench/matmul.js';
import { maxRel } from '../helpers/close.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu matmul tests');

/** float64 product of row-major data as stored (A [bA, M, K] or [bA, K, M] when transposed, …). */
function reference(a: Float32Array, b: Float32Array, d: MatmulDims): Float64Array {
  const out = new Float64Array(d.batch * d.M * d.N);
  for (let z = 0; z < d.batch; z++) {
    const ao = (d.batchA === 1 ? 0 : z) * d.M * d.K;
    const bo = (d.batchB === 1 ? 0 : z) * d.K * d.N;
    for (let i = 0; i < d.M; i++) {
      for (let j = 0; j < d.N; j++) {
        let s = 0;
        for (let k = 0; k < d.K; k++) {
          const av = d.transA ? a[ao + k * d.M + i]! : a[ao + i * d.K + k]!;
          const bv = d.transB ? b[bo + j * d.K + k]! : b[bo + k * d.N + j]!;
          s += av * bv;
        }
        out[(z * d.M + i) * d.N + j] = s;
      }
    }
  }
  return out;
}


async function check(d: MatmulDims, seed: number): Promise<{ rel: number; shape: number[] }> {
  const a = tf.randomNormal(d.transA ? [d.batchA, d.K, d.M] : [d.batchA, d.M, d.K], 0, 1, 'float32', seed);
  const b = tf.randomNormal(d.transB ? [d.batchB, d.N, d.K] : [d.batchB, d.K, d.N], 0, 1, 'float32', seed + 1);
  const c = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, d.transA, d.transB);
  const want = reference((await a.data()) as Float32Array, (await b.data()) as Float32Array, d);
  const rel = maxRel(await c.data(), want);
  const shape = c.shape;
  tf.dispose([a, b, c]);
  return { rel, shape };
}

const dims = (batchA: number, batchB: number, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulDims => ({ batch: Math.max(batchA, batchB), batchA, batchB, M, N, K, transA, transB });

describe.skipIf(why !== undefined)('webgpu tiled matmul', () => {
  afterEach(() => {
    delete process.env['METALA_MATMUL_TILE'];
    delete process.env['METALA_MATMUL_TARGET_WORKGROUPS'];
    delete process.env['METALA_MATMUL_KERNEL'];
    delete process.env['METALA_MATMUL_PRETRANSPOSE'];
  });
  afterAll(async () => {
    await shutdownBackend();
  });

  for (const [tile, kernel] of Object.keys(TILES).flatMap((t) => [[t, 'pipelined'], [t, 'staged'], [t, 'double']] as const)) {
    it(`tile ${tile}, ${kernel} kernel: = the float64 product for both transposes, ragged and vec4 sizes, batch broadcasting`, async () => {
      process.env['METALA_MATMUL_TILE'] = tile;
      process.env['METALA_MATMUL_KERNEL'] = kernel;
      // Every transposed B read in the kernel (the pre-transposed path is the plain kernel plus tfjs's Transpose: its own test below).
      process.env['METALA_MATMUL_PRETRANSPOSE'] = 'off';
      const before = tiledMatmulLaunches();
      const cases = [
        dims(1, 1, 37, 29, 45, false, false),
        dims(1, 1, 130, 70, 21, false, true),
        dims(2, 2, 65, 129, 33, true, false),
        dims(3, 1, 64, 64, 17, true, true),
        dims(1, 2, 19, 131, 9, false, false),
        // contiguous axes that are multiples of 4 (the pipelined kernel's vec4 loads), with and
        // without a ragged last tile, in all four transposes
        dims(1, 1, 132, 68, 44, false, false),
        dims(2, 2, 128, 128, 36, true, false),
        dims(1, 2, 20, 136, 24, false, true),
        dims(3, 1, 128, 64, 64, true, true),
        dims(1, 1, 64, 128, 40, false, true),
      ];
      for (const [i, d] of cases.entries()) {
        const r = await check(d, 10 * i + 1);
        expect(r.shape).toEqual([d.batch, d.M, d.N]);
        expect(r.rel, JSON.stringify(d)).toBeLessThan(1e-5);
      }
      expect(tiledMatmulLaunches() - before).toBe(cases.length);
      expect(await takeGpuError()).toBeUndefined();
    }, 30_000);
  }

  it('splits a long K over workgroups and adds the partial products (weight-gradient shape)', async () => {
    const d = dims(1, 1, 24, 40, 3000, true, false);
    expect(pickSplits(d, TILES.small).splits).toBeGreaterThan(1);
    const r = await check(d, 7);
    expect(r.rel).toBeLessThan(1e-5);
    // a split count that does not divide K: the last split is shorter
    process.env['METALA_MATMUL_TARGET_WORKGROUPS'] = '7';
    const d2 = dims(2, 2, 20, 20, 1999, false, true);
    expect(pickSplits(d2, TILES.small)).toEqual({ splits: 4, kChunk: 504 }); // 1999 = 3·504 + 487
    expect((await check(d2, 9)).rel).toBeLessThan(1e-5);
    // vec4 operands with a split count that does not divide K, on both kernels
    for (const kernel of ['pipelined', 'staged', 'double']) {
      process.env['METALA_MATMUL_KERNEL'] = kernel;
      expect((await check(dims(1, 1, 64, 72, 2008, true, false), 15)).rel, kernel).toBeLessThan(1e-5);
    }
    process.env['METALA_MATMUL_KERNEL'] = 'fast';
    expect(() => tf.matMul(tf.ones([20, 20]), tf.ones([20, 20]))).toThrow(/METALA_MATMUL_KERNEL: 'fast' is not staged, pipelined or double/);
  });

  it('a pre-transposed Bᵀ gives the in-kernel transpose\'s product, for plain and stacked weights, and frees its copy', async () => {
    for (const d of [dims(1, 1, 200, 36, 52, false, true), dims(3, 3, 130, 24, 40, false, true), dims(4, 1, 96, 20, 28, true, true)]) {
      const a = tf.randomNormal(d.transA ? [d.batchA, d.K, d.M] : [d.batchA, d.M, d.K], 0, 1, 'float32', 21);
      const b = tf.randomNormal([d.batchB, d.N, d.K], 0, 1, 'float32', 22);
      const ids = (): number => tf.backend().numDataIds();
      const n0 = ids();
      const got = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, d.transA, true);
      expect(ids()).toBe(n0 + 1); // the product only: Bᵀ's buffer was given back
      process.env['METALA_MATMUL_PRETRANSPOSE'] = 'off';
      const direct = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, d.transA, true);
      delete process.env['METALA_MATMUL_PRETRANSPOSE'];
      const want = reference((await a.data()) as Float32Array, (await b.data()) as Float32Array, d);
      expect(maxRel(await got.data(), want), JSON.stringify(d)).toBeLessThan(1e-5);
      expect(maxRel(await got.data(), await direct.data())).toBeLessThan(1e-5);
      tf.dispose([a, b, got, direct]);
    }
    expect(await takeGpuError()).toBeUndefined();
  });

  it('rank-4 operands keep their outer shape; vector-shaped products fall back to tfjs and agree', async () => {
    const a = tf.randomNormal([2, 3, 20, 24], 0, 1, 'float32', 3);
    const b = tf.randomNormal([2, 3, 24, 18], 0, 1, 'float32', 4);
    const c = tf.matMul(a as unknown as tf.Tensor3D, b as unknown as tf.Tensor3D);
    expect(c.shape).toEqual([2, 3, 20, 18]);
    const want = reference((await a.data()) as Float32Array, (await b.data()) as Float32Array, dims(6, 6, 20, 18, 24, false, false));
    expect(maxRel(await c.data(), want)).toBeLessThan(1e-5);
    const before = tiledMatmulLaunches();
    const r = await check(dims(1, 1, 1, 300, 64, false, false), 5); // decode: one row
    expect(r.rel).toBeLessThan(1e-5);
    expect(tiledMatmulLaunches()).toBe(before);
    tf.dispose([a, b, c]);
  });

  it('gradients through the tiled kernel = through tfjs\'s kernel, and nothing leaks', async () => {
    const a = tf.randomNormal([70, 48], 0, 1, 'float32', 11);
    const w = tf.randomNormal([48, 80], 0, 1, 'float32', 12);
    const dy = tf.randomNormal([70, 80], 0, 1, 'float32', 13);
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), dy));
    const n0 = tf.memory().numTensors;
    const got = tf.grads(f)([a, w]);
    setTiledMatmul(false);
    const want = tf.grads(f)([a, w]);
    setTiledMatmul(true);
    for (let i = 0; i < 2; i++) expect(maxRel(await got[i]!.data(), await want[i]!.data())).toBeLessThan(1e-5);
    tf.dispose([...got, ...want]);
    expect(tf.memory().numTensors).toBe(n0);
    tf.dispose([a, w, dy]);
  });

  it('bench --matmul specs parse, and bad ones are one-line errors', () => {
    expect(parseMatmulSpec('512x256x256x32:tb')).toMatchObject({ batch: 512, M: 256, N: 256, K: 32, transA: false, transB: true });
    expect(parseMatmulSpec('128x128x32768:ta')).toMatchObject({ batch: 1, M: 128, transA: true });
    expect(() => parseMatmulSpec('12x0x3')).toThrow(/positive integer/);
    expect(() => parseMatmulSpec('12x3')).toThrow(/3 or 4 sizes/);
    expect(() => parseMatmulSpec('12x3x4:tc')).toThrow(/unknown flag 'tc'/);
  });

  it('bench --matmul-tiles times every forced tile on the same inputs, each equal to tfjs, and restores the choice', async () => {
    const backend = { backend: 'webgpu', device: 'test' };
    const [r] = await benchMatmul([parseMatmulSpec('96x80x40:tb')], backend, 1, 0, ['large', 'small']);
    expect(r!.error).toBeUndefined();
    expect(r!.tile).toBe(pickTile({ batch: 1, batchA: 1, batchB: 1, M: 96, N: 80, K: 40, transA: false, transB: true }));
    expect(Object.keys(r!.tiles!)).toEqual(['large', 'small']);
    for (const t of Object.values(r!.tiles!)) {
      expect(t.ms).toBeGreaterThan(0);
      expect(t.max_rel_diff).toBeLessThan(1e-5);
    }
    expect(process.env['METALA_MATMUL_TILE']).toBeUndefined();
    // A product the tiled kernel does not take (vector-shaped) gets no tile and no sweep.
    const [v] = await benchMatmul([parseMatmulSpec('1x64x64')], backend, 1, 0, ['large']);
    expect(v!.tile).toBeUndefined();
    expect(v!.tiles).toBeUndefined();
  });
});
