// assignInPlace (src/backend/assign_in_place.ts) on a real WebGPU device (CI: lavapipe): the
// variable keeps its buffer and reads give the new values, also after an earlier read cached the
// old ones on the CPU (a checkpoint reads every parameter between steps).
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { shutdownBackend } from '../../src/backend/index.js';
import { assignInPlace } from '../../src/backend/assign_in_place.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu assignInPlace test');

afterAll(() => shutdownBackend());

describe.skipIf(why !== undefined)('assignInPlace on webgpu', () => {
  it('keeps the buffer, and a read after a read returns the new values', async () => {
    // Large enough that tfjs runs its ops on the GPU (small CPU-resident ones run on the CPU).
    const n = 4096;
    const t = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => i));
    const v = tf.variable(t);
    t.dispose(); // v alone owns its data, as the optimizer's variables do
    const be = tf.backend() as unknown as { tensorMap: { get(id: object): { resource: unknown; refCount: number } } };
    tf.tidy(() => tf.add(v, 0)).dispose(); // uploads v
    const buffer = be.tensorMap.get(v.dataId).resource;
    expect(buffer).toBeDefined();
    expect(be.tensorMap.get(v.dataId).refCount).toBe(1);
    expect((await v.data())[3]).toBe(3); // now cached on the CPU too
    for (const k of [10, 20]) {
      assignInPlace(v, tf.tidy(() => tf.mul(v, k)));
      expect(be.tensorMap.get(v.dataId).resource).toBe(buffer);
    }
    expect((await v.data())[3]).toBe(600);
    const w = tf.tidy(() => tf.add(v, 1));
    expect((await w.data())[3]).toBe(601);
    w.dispose();
    v.dispose();
  });
});
