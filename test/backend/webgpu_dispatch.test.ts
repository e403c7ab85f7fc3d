// The dispatch cache and the step-repeating buffer pool (src/backend/webgpu_dispatch.ts,
// webgpu_pool.ts) on a real WebGPU device (CI: lavapipe): after a dozen identical training steps
// nearly every dispatch finds its bind group in the cache, most allocations get last step's
// buffer, and releasing the pool (which destroys buffers) leaves training working; and bench's
// step timing that reports it.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { markGpuStep, releaseGpuPool, shutdownBackend, takeGpuError } from '../../src/backend/index.js';
import { takeDispatchCacheStats } from '../../src/backend/webgpu_dispatch.js';
import { takePoolStats } from '../../src/backend/webgpu_pool.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { AdamW } from '../../src/train/optim.js';
import { installLeanBackward } from '../../src/backend/lean_backward.js';
import { labelIndex } from '../../src/data/labels.js';
import { maskedCrossEntropy } from '../../src/train/loss.js';
import { benchCase } from '../../src/bench/run.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu dispatch cache tests');

describe.skipIf(why !== undefined)('webgpu dispatch cache and step-repeating pool', () => {
  afterAll(async () => {
    await shutdownBackend();
  });

  it('a repeated training step takes ≥ 98% of its bind groups from the cache within 12 steps, with the lean reverse pass and without, and survives a pool release', async () => {
    const cfg = lmSchema.parse({ d_model: 32, n_layers: 1, vocab_size: 64, mixer: { name: 'metala', num_heads: 2 }, max_seq_len: 16 });
    const model = new CausalLM(cfg as LmConfig, 0);
    const optim = new AdamW(model.params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
    const [B, T] = [2, 16];
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 64);
    const idx = labelIndex(Int32Array.from(ids, (_, i) => ids[(i + 1) % ids.length]!));
    const idsT = tf.tensor2d(ids, [B, T], 'int32');
    const vars = [...model.params.vars.values()];
    const step = async (): Promise<{ loss: number; hits: number; misses: number; preferred: number; other: number }> => {
      takeDispatchCacheStats();
      takePoolStats();
      markGpuStep();
      const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(model.forward(idsT).logits, idx), vars);
      const named: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) named[model.params.byVarName.get(vn)!] = g;
      const norm = optim.step(named, 1e-2, 1);
      const loss = (await value.data())[0]!;
      tf.dispose([value, norm, ...Object.values(grads)]);
      return { loss, ...takeDispatchCacheStats(), ...takePoolStats() };
    };
    const rows = [];
    for (let i = 0; i < 12; i++) rows.push(await step());
    const first = rows[0]!;
    const last = rows.at(-1)!;
    // a cold cache: only a dispatch that repeats one of the same step (same pipeline, same buffers) hits
    expect(first.hits / (first.hits + first.misses)).toBeLessThan(0.05);
    expect(last.hits / (last.hits + last.misses)).toBeGreaterThanOrEqual(0.98);
    // tfjs's reverse pass frees later, so allocations land elsewhere; the pool repeats that too.
    installLeanBackward(false);
    try {
      for (let i = 0; i < 12; i++) rows.push(await step());
    } finally {
      installLeanBackward(true);
    }
    const tfjsPass = rows.at(-1)!;
    expect(tfjsPass.hits / (tfjsPass.hits + tfjsPass.misses)).toBeGreaterThanOrEqual(0.98);
    expect(last.preferred).toBeGreaterThan(last.other);
    // the model learns the fixed batch through the cached dispatches
    expect(last.loss).toBeLessThan(first.loss);
    // releasing the pool destroys idle buffers; cached bind groups naming them must be dropped
    await releaseGpuPool();
    const after = await step();
    expect(Number.isFinite(after.loss)).toBe(true);
    expect(after.loss).toBeLessThan(first.loss);
    expect(await takeGpuError()).toBeUndefined();
    idsT.dispose();
    optim.dispose();
    model.dispose();
  });

  it("bench --profile's step_timing: GPU busy time, launches, cache hits and the host's GC pauses, consistent with each other", async () => {
    const c = { mixer: { name: 'metala', num_heads: 2 }, d_model: 32, n_layers: 1, batch: 2, seq_len: 16, vocab_size: 64 };
    const r = await benchCase(c, { backend: 'webgpu', device: 'lavapipe' }, 1, 12, true);
    expect(r.error).toBeUndefined();
    const t = r.step_timing!;
    expect(t.dispatches).toBeGreaterThan(50);
    expect(t.bind_group_hits / t.dispatches).toBeGreaterThanOrEqual(0.98);
    expect(t.gpu_busy_ms).toBeGreaterThan(0);
    expect(t.host_record_ms).toBeLessThanOrEqual(t.step_wall_ms);
    expect(t.gc_record_ms).toBeGreaterThanOrEqual(0);
    expect(t.gc_record_ms).toBeLessThanOrEqual(t.host_record_ms);
    expect(t.gc_step_ms).toBeGreaterThanOrEqual(t.gc_record_ms);
    expect(t.host_us_per_dispatch).toBeCloseTo((1000 * t.host_record_ms) / t.dispatches, -1);
    // The timed step was replayed (step_replay.ts): the same kernels, issued without tfjs.
    expect(r.step_replay).toEqual({ captured: 0, replayed: 1 });
    const h = r.host_issue!;
    expect(h.replayed).toBe(true);
    expect(h.dispatches).toBe(t.dispatches);
    expect(h.ms).toBeLessThan(t.host_record_ms);
    expect(h.gpu_busy_ms).toBeGreaterThan(0);
    expect(h.gpu_busy_ms!).toBeLessThanOrEqual(h.gpu_span_ms!);
  });
});
