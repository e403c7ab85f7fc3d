// The training loop: result files, no tensor leak per step, skip-when-finished, and exact resume
// (an interrupted run continued from its checkpoint ends where an uninterrupted one does).
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../../src/backend/index.js';
import { loadExperiment } from '../../src/config/load.js';
import { trainRun } from '../../src/train/loop.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { lrAt } from '../../src/train/schedule.js';
import { tinyConfig } from '../helpers/tiny.js';

let backend: BackendInfo;
beforeAll(async () => {
  backend = await initBackend('cpu');
});

describe('train loop', () => {
  it('writes config, metrics, summary and a loadable checkpoint; leaks no tensors; skips when finished', async () => {
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file).runs[0]!;
    const before = tf.memory().numTensors;
    const out = await trainRun(spec, { resultsDir: dir, backend, progress: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(out.status).toBe('finished');
    const runDir = join(dir, 'tiny', spec.run_id);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('finished');
    expect(summary.steps).toBe(12);
    expect(summary.best.accuracy).toBeGreaterThanOrEqual(0);
    expect(summary.backend).toBe('cpu');
    expect(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).run_id).toBe(spec.run_id);
    const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.eval !== undefined).length).toBe(3);
    expect(lines.filter((l) => typeof l.loss === 'number').length).toBeGreaterThanOrEqual(6);
    const ck = await readSafetensors(join(runDir, 'checkpoint', 'model.safetensors'));
    expect(ck.tensors.has('model.layers.0.token_mixer.q_proj.weight')).toBe(true);
    expect(existsSync(join(runDir, 'checkpoint', 'optimizer.safetensors'))).toBe(true);
    const again = await trainRun(spec, { resultsDir: dir, backend, progress: false });
    expect(again.status).toBe('skipped');
  });

  it('resuming an interrupted run reproduces the uninterrupted run exactly', async () => {
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file).runs[0]!;
    const full = await trainRun(spec, { resultsDir: join(dir, 'a'), backend, progress: false });
    const part = await trainRun(spec, { resultsDir: join(dir, 'b'), backend, progress: false, stopAfterSteps: 5 });
    expect(part.status).toBe('interrupted');
    expect(part.summary['steps']).toBe(5);
    const rest = await trainRun(spec, { resultsDir: join(dir, 'b'), backend, progress: false });
    expect(rest.status).toBe('finished');
    expect(rest.summary['resumed']).toBe(true);
    expect(rest.summary['steps']).toBe(12);
    const wa = await readSafetensors(join(dir, 'a', 'tiny', spec.run_id, 'checkpoint', 'model.safetensors'));
    const wb = await readSafetensors(join(dir, 'b', 'tiny', spec.run_id, 'checkpoint', 'model.safetensors'));
    for (const [name, t] of wa.tensors) expect(Array.from(wb.tensors.get(name)!.data)).toEqual(Array.from(t.data));
    expect((rest.summary['final'] as { loss: number }).loss).toBe((full.summary['final'] as { loss: number }).loss);
  });

  it('a diverging run fails with a clear error and keeps its last good checkpoint', async () => {
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file, ['train.lr=1e30', 'train.grad_clip=0']).runs[0]!;
    await expect(trainRun(spec, { resultsDir: dir, backend, progress: false })).rejects.toThrow(/training diverged at step \d+ \(loss .*gradient norm (NaN|Infinity)/);
    const summary = JSON.parse(readFileSync(join(dir, 'tiny', spec.run_id, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
  });
});

describe('schedule', () => {
  const t = { lr: 1, warmup_steps: 10, schedule: 'cosine' as const, min_lr_ratio: 0.1 };
  it('warms up linearly, then anneals from lr to min_lr_ratio·lr', () => {
    expect(lrAt(0, 110, t)).toBeCloseTo(0.1);
    expect(lrAt(9, 110, t)).toBeCloseTo(1);
    expect(lrAt(10, 110, t)).toBeCloseTo(1);
    expect(lrAt(60, 110, t)).toBeCloseTo(0.55);
    expect(lrAt(110, 110, t)).toBeCloseTo(0.1);
  });
});

describe('out of memory', () => {
  it('a backend allocation failure becomes a one-line RunError naming the run and a smaller batch', async () => {
    const backend = await initBackend('cpu');
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file).runs[0]!;
    // Make the task's data loader throw the way an exhausted wasm heap does.
    const { TASKS } = await import('../../src/tasks/registry.js');
    const task = TASKS.mqar as unknown as { makeData: (...a: unknown[]) => { train: { batches: () => Iterable<unknown> } } };
    const orig = task.makeData;
    task.makeData = (...a: unknown[]) => {
      const d = orig(...a);
      return { ...d, train: { ...d.train, batches: () => { throw new RangeError('Array buffer allocation failed'); } } };
    };
    try {
      await expect(trainRun(spec, { resultsDir: dir, backend, progress: false })).rejects.toThrow(/tiny\/\w+: out of CPU \(cpu backend\) memory .*--set train\.batch_size=8/);
    } finally {
      task.makeData = orig;
    }
  });
});

describe('throughput unit', () => {
  const summaryOf = (dir: string, exp: string, id: string) => JSON.parse(readFileSync(join(dir, exp, id, 'summary.json'), 'utf8'));
  it('token tasks log tok/s; image tasks count images and say img/s and throughput_unit images', async () => {
    const tiny = tinyConfig();
    const tokSpec = loadExperiment(tiny.file).runs[0]!;
    const tokLog: string[] = [];
    await trainRun(tokSpec, { resultsDir: tiny.dir, backend, progress: false, log: (l) => tokLog.push(l) });
    expect(tokLog.some((l) => / \d+ tok\/s$/.test(l))).toBe(true);
    expect(summaryOf(tiny.dir, 'tiny', tokSpec.run_id).throughput_unit).toBeUndefined();

    const dir = mkdtempSync(join(tmpdir(), 'metala-img-'));
    const file = join(dir, 'img.yaml');
    writeFileSync(file, [
      'name: img',
      'seed: 0',
      'task: { name: image_classification, dataset: mnist, train_examples: 32, test_examples: 16 }',
      'model: { backbone: vit, d_model: 16, n_layers: 1, image_size: 32, in_channels: 1, patch_size: 16, mixer: { name: metala, num_heads: 2 }, pool: mean, pos_embed: none }',
      'train: { batch_size: 8, max_steps: 4, lr: 1.0e-3, eval_every: 2 }',
    ].join('\n'));
    const imgSpec = loadExperiment(file).runs[0]!;
    const imgLog: string[] = [];
    await trainRun(imgSpec, { resultsDir: dir, backend, progress: false, log: (l) => imgLog.push(l) });
    expect(imgLog.filter((l) => / eval acc /.test(l)).every((l) => / \d+ img\/s$/.test(l))).toBe(true);
    expect(imgLog.some((l) => /tok\/s/.test(l))).toBe(false);
    const s = summaryOf(dir, 'img', imgSpec.run_id);
    expect(s.throughput_unit).toBe('images');
    // 4 steps of 8 images (4 patches each): tokens_per_s · wall_s is 32 images, not 128 patches,
    // up to wall_s's rounding to 0.1 s.
    expect(Math.abs(s.tokens_per_s * s.wall_s - 32)).toBeLessThanOrEqual(s.tokens_per_s * 0.05 + 1);
  });
});
