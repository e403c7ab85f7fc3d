// CPU-side pieces of the GPU work that run everywhere: the counting sort behind the embedding
// gradient, the embedding fallback on backends without the kernel, the split rule of the fused gla
// kernels, and that takeGpuError is silent off webgpu.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, takeGpuError } from '../../src/backend/index.js';
import { pickSplits, pickTile, pretransposeB, TILES, tiledMatmulApplies, type MatmulDims } from '../../src/backend/kernels/matmul_webgpu.js';
import { embedLookup, sortIds } from '../../src/layers/embedding.js';
import { glaSplits } from '../../src/ops/gated_recurrence/webgpu_recurrent.js';
import { disabledFamilies } from '../../src/backend/kernels/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('embedding lookup', () => {
  it('sortIds groups positions by id, stably, with offsets per id', () => {
    const { perm, offsets } = sortIds(Int32Array.from([2, 0, 2, 1, 0]), 4);
    expect(Array.from(perm)).toEqual([1, 4, 3, 0, 2]);
    expect(Array.from(offsets)).toEqual([0, 2, 3, 5, 5]);
  });

  it('falls back to tf.gather where the backend has no sorted-segment kernel (same values and gradient)', async () => {
    const ids = Int32Array.from([3, 0, 3, 3, 1]);
    const table = tf.randomNormal([4, 3], 0, 1, 'float32', 1);
    const dy = tf.randomNormal([5, 3], 0, 1, 'float32', 2);
    const a = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedLookup(t as tf.Tensor2D, ids), dy)))(table);
    const b = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d(ids, 'int32')), dy)))(table);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
  });
});

describe('fused gla kernel splits', () => {
  it('keeps one block below T = 1024 and splits long sequences up to 4 blocks of ≥ 8 channels', () => {
    expect(glaSplits(32, 512, 4, 32, 64)).toEqual({ kb: 1, vb: 1 });
    expect(glaSplits(16, 2048, 4, 64, 128)).toEqual({ kb: 4, vb: 4 });
    // K = 8: too narrow to split; V = 16 splits once (blocks of 8).
    expect(glaSplits(1, 4096, 1, 8, 16)).toEqual({ kb: 1, vb: 2 });
    // Enough threads already: no split.
    expect(glaSplits(512, 2048, 8, 64, 64)).toEqual({ kb: 1, vb: 1 });
  });
});

describe('takeGpuError', () => {
  it('is undefined off webgpu', async () => {
    expect(await takeGpuError()).toBeUndefined();
  });
});

describe('METALA_NO_FUSED', () => {
  it('names the fused kernel families to leave out; all = every family; unknown names are a one-line error', () => {
    expect([...disabledFamilies('')]).toEqual([]);
    expect([...disabledFamilies(' conv, norm ')].sort()).toEqual(['conv', 'norm']);
    expect([...disabledFamilies('all')].sort()).toEqual(['conv', 'dropout', 'embedding', 'gla', 'gradnorm', 'matmul', 'norm', 'rwkv4', 'scan', 'silu', 'xent']);
    expect(() => disabledFamilies('conv,fast')).toThrow(/^METALA_NO_FUSED: unknown kernel family 'fast'\. Use a comma-separated list of gla, conv, norm, rwkv4, scan, embedding, xent, matmul, dropout, gradnorm, silu, or all$/);
  });
});

describe('tiled matmul routing and K splits (decided on the host)', () => {
  const d = (M: number, N: number, K: number, transA = false, transB = false, batch = 1): MatmulDims => ({ batch, batchA: batch, batchB: batch, M, N, K, transA, transB });
  it('takes training products and the LM head forward, leaves vector shapes to tfjs', () => {
    expect(tiledMatmulApplies(d(32768, 128, 128))).toBe(true);
    expect(tiledMatmulApplies(d(32768, 128, 8192, false, true))).toBe(true); // head input gradient
    expect(tiledMatmulApplies(d(128, 8192, 32768, true))).toBe(true); // head weight gradient
    expect(tiledMatmulApplies(d(32768, 8192, 128))).toBe(true); // head forward: measured faster than tfjs's
    expect(tiledMatmulApplies(d(1, 300, 64))).toBe(false); // decode row
  });
  it('transposes Bᵀ first where each B meets at least 64 rows of A; a bad METALA_MATMUL_PRETRANSPOSE is one line', () => {
    expect(pretransposeB(d(32768, 512, 512, false, true))).toBe(true); // input gradient ∂y·Wᵀ
    expect(pretransposeB(d(2048, 128, 256, true, true, 4))).toBe(true); // a stack's [R, N, K] weights
    expect(pretransposeB(d(256, 256, 64, false, true, 64))).toBe(true); // attention Q·Kᵀ at T 256
    expect(pretransposeB(d(32, 32, 64, false, true, 64))).toBe(false); // 32 rows per B: the move would not pay
    expect(pretransposeB(d(32768, 512, 512))).toBe(false); // nothing to transpose
    process.env['METALA_MATMUL_PRETRANSPOSE'] = 'off';
    expect(pretransposeB(d(32768, 512, 512, false, true))).toBe(false);
    process.env['METALA_MATMUL_PRETRANSPOSE'] = 'yes';
    expect(() => pretransposeB(d(32768, 512, 512, false, true))).toThrow(/^METALA_MATMUL_PRETRANSPOSE: 'yes' is not on or off\. Unset it, or set on or off$/);
    delete process.env['METALA_MATMUL_PRETRANSPOSE'];
  });
  it('picks the tile by the output shape, with 16-deep k slices from K = 512', () => {
    expect(pickTile(d(32768, 128, 128))).toBe('large');
    expect(pickTile(d(32768, 1376, 512))).toBe('large_k16');
    expect(pickTile(d(128, 8192, 32768, true))).toBe('large_k16');
    expect(pickTile(d(32768, 64, 512))).toBe('wide');
    expect(pickTile(d(64, 512, 32768, true))).toBe('tall');
    expect(pickTile(d(64, 64, 64, false, false, 32))).toBe('small');
  });
  it('splits a long K only while the output tiles are too few, in BK multiples', () => {
    expect(pickSplits(d(32768, 128, 128), TILES.large)).toEqual({ splits: 1, kChunk: 128 });
    const s = pickSplits(d(128, 128, 32768, true), TILES.large);
    expect(s.splits).toBeGreaterThan(1);
    expect(s.kChunk % TILES.large.BK).toBe(0);
    expect(s.splits * s.kChunk).toBeGreaterThanOrEqual(32768);
  });
});
