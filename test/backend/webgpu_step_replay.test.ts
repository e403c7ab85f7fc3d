// Step replay (src/backend/step_replay.ts) on a real WebGPU device (CI: lavapipe): a run whose steps
// are replayed — its batches, label positions, embedding-gradient sort and learning rate change
// every step, evaluations interrupt it — logs exactly the losses, gradient norms and evaluations of
// the same run with every step's JavaScript run (METALA_STEP_REPLAY=off), for a plain run and a
// stack of two; and most of its steps were replayed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { initBackend, shutdownBackend } from '../../src/backend/index.js';
import { takeReplayTotals } from '../../src/backend/step_replay.js';
import { loadExperiment } from '../../src/config/load.js';
import { trainRun } from '../../src/train/loop.js';
import { trainStack } from '../../src/train/stack_loop.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu step replay test');

// Cosine lr with warmup: the optimizer's per-step scalars change every step.
const CONFIG = `
name: tiny
task: { name: mqar, vocab_size: 96, input_seq_len: 64, num_kv_pairs: 4, train_examples: 256, test_examples: 32 }
model: { d_model: 32, n_layers: 2, mixer: { name: metala, num_heads: 2, key_dim_ratio: 1, conv_size: 2 }, max_seq_len: 64 }
train: { batch_size: 16, max_steps: 16, lr: 3.0e-3, warmup_steps: 3, eval_every: 8, log_every: 1, grad_clip: 1.0 }
sweep:
  - { seed: [3, 4] }
`;

// The classifier on LRA ListOps (generated in memory): lengths vary per example, so the reversal
// index and the mean-pooling weights change every step; padded to one length (112) so shapes repeat.
const LISTOPS = `
include: ${resolve('configs/lra/listops.yaml')}
name: listops-tiny
task: { source: generated, train_examples: 2000, test_examples: 64, min_length: 10, max_length: 100, max_depth: 3, max_args: 4, pad_multiple: 112 }
model: { n_layers: 2, mixer: { num_heads: 2 } }
train: { batch_size: 16, max_steps: 12, lr: 3.0e-3, warmup_steps: 4, eval_every: 6, log_every: 1 }
`;

// Fig. 3's six mixers as configs/mqar-fig3-t256.yaml sets them (Based with a 4-dimensional feature
// map instead of 16: its expanded state is what makes it slow on lavapipe), each as a stack of two lrs.
const FIG3_MIXERS: [string, string][] = [
  ['softmax', '{ name: softmax, num_heads: 1 }'],
  ['metala', '{ name: metala, num_heads: 2, key_dim_ratio: 1, conv_size: 2 }'],
  ['based', '{ name: based, feature_dim: 4 }'],
  ['gla', '{ name: gla, num_heads: 2, key_dim_ratio: 1 }'],
  ['rwkv4', '{ name: rwkv4 }'],
  ['mamba', '{ name: mamba }'],
];
const fig3Config = (mixer: string): string => `
name: fig3-tiny
task: { name: mqar, vocab_size: 96, input_seq_len: 64, num_kv_pairs: 4, train_examples: 256, test_examples: 32 }
model: { d_model: 32, n_layers: 2, mixer: ${mixer}, max_seq_len: 64 }
train: { batch_size: 16, max_steps: 8, lr: 3.0e-3, eval_every: 4, log_every: 1 }
sweep:
  - { train.lr: [1.0e-3, 3.0e-3] }
`;

type Line = { step?: number; loss?: number; grad_norm?: number; lr?: number; eval?: { loss: number; accuracy: number } };
const strip = (l: Line) => ({ step: l.step, loss: l.loss, grad_norm: l.grad_norm, lr: l.lr, eval: l.eval });

/** A run's metrics.jsonl lines (step, loss, gradient norm, lr, evaluations). */
const readMetrics = (folder: string): Line[] =>
  readFileSync(join(folder, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => strip(JSON.parse(l) as Line));

afterEach(() => {
  delete process.env['METALA_STEP_REPLAY'];
});
afterAll(() => shutdownBackend());

describe('METALA_STEP_REPLAY', () => {
  it('a bad value stops `metala train` with one line, exit 2, before any run folder', () => {
    const results = mkdtempSync(join(tmpdir(), 'metala-replay-env-'));
    const r = spawnSync(process.execPath, [resolve('bin/metala.js'), 'train', resolve('configs/smoke/mqar.yaml'), '--backend', 'cpu', '--results', results], {
      encoding: 'utf8',
      env: { ...process.env, METALA_STEP_REPLAY: 'yes' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('metala: '))).toEqual(["error: METALA_STEP_REPLAY: 'yes' is not on or off. Set METALA_STEP_REPLAY=on (the default) or off"]);
    expect(readdirSync(results)).toEqual([]);
  });
});

describe.skipIf(why !== undefined)('step replay on webgpu', () => {
  it('replayed steps log exactly what the steps run in full log (a run, and a stack of 2)', async () => {
    const backend = await initBackend('webgpu');
    const dir = mkdtempSync(join(tmpdir(), 'metala-step-replay-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, CONFIG);
    const runs = loadExperiment(file).runs;
    const read = (where: string, id: string): Line[] => readMetrics(join(dir, where, 'tiny', id));

    takeReplayTotals();
    await trainRun(runs[0]!, { resultsDir: join(dir, 'replay'), backend, progress: false });
    const plain = takeReplayTotals();
    await trainStack(runs, { resultsDir: join(dir, 'stack-replay'), backend, progress: false });
    const stacked = takeReplayTotals();
    process.env['METALA_STEP_REPLAY'] = 'off';
    await trainRun(runs[0]!, { resultsDir: join(dir, 'full'), backend, progress: false });
    await trainStack(runs, { resultsDir: join(dir, 'stack-full'), backend, progress: false });
    expect(takeReplayTotals()).toEqual({ captured: 0, replayed: 0 });

    // 16 steps, an evaluation after step 8: two captures to start, at most two after it.
    expect(plain.replayed).toBeGreaterThanOrEqual(10);
    expect(plain.captured + plain.replayed).toBe(16);
    expect(stacked.replayed).toBeGreaterThanOrEqual(10);
    const a = read('replay', runs[0]!.run_id);
    expect(a.filter((l) => l.loss !== undefined)).toHaveLength(16);
    expect(a).toEqual(read('full', runs[0]!.run_id));
    for (const r of runs) expect(read('stack-replay', r.run_id)).toEqual(read('stack-full', r.run_id));
  }, 300_000);

  it('a run interrupted after checkpoints and resumed ends as the uninterrupted one (checkpoints hold the replayed steps\' parameters)', async () => {
    const backend = await initBackend('webgpu');
    const dir = mkdtempSync(join(tmpdir(), 'metala-step-replay-resume-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, CONFIG.replace('eval_every: 8', 'eval_every: 4'));
    const [run] = loadExperiment(file).runs;
    const read = (where: string): Line[] => readMetrics(join(dir, where, 'tiny', run!.run_id));
    await trainRun(run!, { resultsDir: join(dir, 'whole'), backend, progress: false });
    // Checkpoints at steps 4 and 8, and at 10 where it stops; the resumed half replays again.
    const first = await trainRun(run!, { resultsDir: join(dir, 'resumed'), backend, progress: false, stopAfterSteps: 10 });
    expect(first.status).toBe('interrupted');
    takeReplayTotals();
    await trainRun(run!, { resultsDir: join(dir, 'resumed'), backend, progress: false });
    expect(takeReplayTotals().replayed).toBeGreaterThanOrEqual(2);
    expect(read('resumed')).toEqual(read('whole'));
  }, 300_000);

  for (const [name, mixer] of FIG3_MIXERS) {
    it(`Fig. 3's ${name} as a stack of 2: replayed steps log exactly what full steps log`, async () => {
      const backend = await initBackend('webgpu');
      const dir = mkdtempSync(join(tmpdir(), `metala-step-replay-${name}-`));
      const file = join(dir, 'fig3.yaml');
      writeFileSync(file, fig3Config(mixer));
      const runs = loadExperiment(file).runs;
      const read = (where: string, id: string): Line[] => readMetrics(join(dir, where, 'fig3-tiny', id));
      takeReplayTotals();
      await trainStack(runs, { resultsDir: join(dir, 'replay'), backend, progress: false });
      const t = takeReplayTotals();
      process.env['METALA_STEP_REPLAY'] = 'off';
      await trainStack(runs, { resultsDir: join(dir, 'full'), backend, progress: false });
      // 8 steps, an evaluation (and checkpoint) after step 4: replay resumes after two or three
      // captures each time.
      expect(t.replayed).toBeGreaterThanOrEqual(2);
      for (const r of runs) expect(read('replay', r.run_id)).toEqual(read('full', r.run_id));
    }, 300_000);
  }

  const firstLoss = new Map<number, number>();
  for (const dropout of [0, 0.1]) {
    it(`a ListOps classifier (lengths vary per example; dropout ${dropout}) logs exactly what it logs with every step run in full`, async () => {
      const backend = await initBackend('webgpu');
      const dir = mkdtempSync(join(tmpdir(), 'metala-step-replay-listops-'));
      const file = join(dir, 'listops.yaml');
      // Seeded dropout (src/layers/dropout.ts) draws its masks on the GPU from the step's seed.
      writeFileSync(file, LISTOPS.replace('mixer: { num_heads: 2 } }', `mixer: { num_heads: 2 }, dropout: ${dropout} }`));
      const [run] = loadExperiment(file).runs;
      const read = (where: string): Line[] => readMetrics(join(dir, where, 'listops-tiny', run!.run_id));
      takeReplayTotals();
      await trainRun(run!, { resultsDir: join(dir, 'replay'), backend, progress: false });
      const t = takeReplayTotals();
      process.env['METALA_STEP_REPLAY'] = 'off';
      await trainRun(run!, { resultsDir: join(dir, 'full'), backend, progress: false });
      expect(t.replayed).toBeGreaterThanOrEqual(6);
      expect(read('replay').filter((l) => l.loss !== undefined)).toHaveLength(12);
      expect(read('replay')).toEqual(read('full'));
      // The masks did drop something: the first step's loss moved (same init, same batch).
      firstLoss.set(dropout, read('replay')[0]!.loss!);
      if (dropout > 0 && firstLoss.has(0)) expect(firstLoss.get(dropout)).not.toBe(firstLoss.get(0));
    }, 300_000);
  }
});
