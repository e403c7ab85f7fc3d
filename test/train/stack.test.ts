// Stacked sweeps (train.stack): runs trained as one model with a replica axis are the runs trained
// alone. A 3-replica stack (own seeds, lrs, one early-stopping, one diverging) logs each replica's
// losses, evaluations, summary and checkpoint as its run alone does (the stack shrinking as they
// retire); an interrupted stack resumes to the same end; which runs may stack (stack_plan.ts) and
// its one-line errors; and the smoke sweep through the CLI on wasm (`--set train.stack=2` vs off).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../src/backend/index.js';
import { loadExperiment } from '../../src/config/load.js';
import type { RunSpec } from '../../src/config/schema.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { trainRun } from '../../src/train/loop.js';
import { trainStack } from '../../src/train/stack_loop.js';
import { planStacks } from '../../src/train/stack_plan.js';
import { RunError } from '../../src/util/errors.js';
import { expectClose } from '../helpers/close.js';

const REPO = resolve(import.meta.dirname, '../..');

let backend: BackendInfo;
beforeAll(async () => {
  backend = await initBackend('cpu');
});

const BASE = `
name: tiny
seed: 3
task: { name: mqar, vocab_size: 32, input_seq_len: 16, num_kv_pairs: 2, train_examples: 256, test_examples: 32 }
model: { d_model: 16, n_layers: 1, mixer: { name: metala, num_heads: 2, key_dim_ratio: 1, conv_size: 2 }, max_seq_len: 16 }
train: { batch_size: 16, max_steps: 50, lr: 3.0e-3, eval_every: 5, log_every: 1 }
`;

/** Three runs: a plain one, one of another seed and lr that early-stops at step 15, one whose lr makes it diverge at step 7. */
const SWEEP = `
sweep:
  - { seed: [3], train.lr: [3.0e-3] }
  - { seed: [4], train.lr: [1.0e-2], train.early_stop: [{ metric: loss, below: 2.9 }] }
  - { seed: [3], train.lr: [1.0e+3] }
`;

function configFile(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'metala-stack-'));
  const file = join(dir, 'tiny.yaml');
  writeFileSync(file, text);
  return { dir, file };
}

type Line = { step: number; loss?: number; grad_norm?: number; eval?: { accuracy: number; loss: number } };
const metrics = (dir: string): Line[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
const summaryOf = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;

/** Step losses, gradient norms and evaluations of two run folders agree within 1e-5 relative. */
function expectSameRun(got: string, want: string, name: string): void {
  const g = metrics(got);
  const w = metrics(want);
  expect(g.map((l) => [l.step, l.eval !== undefined]), `${name}: logged steps`).toEqual(w.map((l) => [l.step, l.eval !== undefined]));
  const pick = (ls: Line[], f: (l: Line) => number | undefined): number[] => ls.map(f).filter((x): x is number => x !== undefined);
  expectClose(pick(g, (l) => l.loss), pick(w, (l) => l.loss), { name: `${name} losses`, rtol: 1e-5 });
  expectClose(pick(g, (l) => l.grad_norm), pick(w, (l) => l.grad_norm), { name: `${name} gradient norms`, rtol: 1e-5 });
  expectClose(pick(g, (l) => l.eval?.loss), pick(w, (l) => l.eval?.loss), { name: `${name} eval losses`, rtol: 1e-5 });
  expect(pick(g, (l) => l.eval?.accuracy), `${name}: eval accuracies`).toEqual(pick(w, (l) => l.eval?.accuracy));
}

async function trainAlone(spec: RunSpec, resultsDir: string): Promise<void> {
  try {
    await trainRun(spec, { resultsDir, backend, progress: false });
  } catch (e) {
    if (!(e instanceof RunError)) throw e; // the diverging run: its summary says failed
  }
}

describe('stacked sweep = its runs alone (cpu)', () => {
  it('3 replicas over 50 steps: each logs, evaluates, stops and checkpoints as alone; one early-stops, one diverges', async () => {
    const { dir, file } = configFile(BASE + SWEEP);
    const runs = loadExperiment(file).runs;
    expect(runs).toHaveLength(3);
    for (const r of runs) await trainAlone(r, join(dir, 'alone'));
    const before = tf.memory().numTensors;
    const notices: string[] = [];
    const outs = await trainStack(runs, { resultsDir: join(dir, 'stack'), backend, progress: false, notice: (l) => notices.push(l) });
    expect(tf.memory().numTensors).toBe(before);
    expect(outs.map((o) => o.status)).toEqual(['finished', 'finished', 'failed']);
    // A retired replica leaves the stack: the rest go on as a smaller one, rebuilt from checkpoints.
    expect(notices.filter((l) => l.includes('go on as a stack'))).toEqual([
      'tiny stack of 3: 2 of its runs go on as a stack of 2 from step 7',
      'tiny stack of 2: 1 of its runs go on as a stack of 1 from step 15',
    ]);
    // Each summary names the stack the run last trained in.
    const lastStack = [[runs[0]!], [runs[0]!, runs[1]!], runs];
    for (const r of runs) {
      const a = join(dir, 'alone', 'tiny', r.run_id);
      const s = join(dir, 'stack', 'tiny', r.run_id);
      expectSameRun(s, a, r.run_id);
      const [sa, ss] = [summaryOf(a), summaryOf(s)];
      for (const k of ['status', 'stopped', 'steps', 'total_steps', 'params', 'seed', 'metric']) expect(ss[k], `${r.run_id} summary.${k}`).toEqual(sa[k]);
      expect((ss['best'] as { step: number }).step).toBe((sa['best'] as { step: number }).step);
      expect((ss['best'] as { accuracy: number }).accuracy).toBe((sa['best'] as { accuracy: number }).accuracy);
      const with_ = lastStack[runs.indexOf(r)]!;
      expect(ss['stack']).toEqual({ replicas: with_.length, runs: with_.map((x) => x.run_id) });
      expect(String(ss['error'] ?? '').replaceAll(join(dir, 'stack'), '…')).toBe(String(sa['error'] ?? '').replaceAll(join(dir, 'alone'), '…'));
      // The checkpoint: each parameter as the run alone left it (the diverged one: its last good one).
      const [ca, cs] = [await readSafetensors(join(a, 'checkpoint', 'model.safetensors')), await readSafetensors(join(s, 'checkpoint', 'model.safetensors'))];
      for (const [name, t] of ca.tensors) {
        expect(cs.tensors.get(name)!.shape, name).toEqual(t.shape);
        expectClose(cs.tensors.get(name)!.data, t.data, { name: `${r.run_id} ${name}`, rtol: 1e-4 });
      }
    }
    const [early, diverged] = [summaryOf(join(dir, 'stack', 'tiny', runs[1]!.run_id)), summaryOf(join(dir, 'stack', 'tiny', runs[2]!.run_id))];
    expect(early['stopped']).toBe('early_stop');
    expect(early['steps']).toBe(15);
    expect(diverged['status']).toBe('failed');
    expect(String(diverged['error'])).toMatch(/training diverged at step 7 .*the last good checkpoint is kept/);
    // The replicas still training after the others stopped went on to their own last step.
    expect(summaryOf(join(dir, 'stack', 'tiny', runs[0]!.run_id))['steps']).toBe(50);
  }, 120_000);

  it('an interrupted stack resumes, from each run folder, to the end of the uninterrupted one', async () => {
    const { dir, file } = configFile(BASE + `sweep:\n  - { seed: [3, 4], train.lr: [3.0e-3] }\n`);
    const runs = loadExperiment(file).runs;
    const full = await trainStack(runs, { resultsDir: join(dir, 'a'), backend, progress: false });
    expect(full.map((o) => o.status)).toEqual(['finished', 'finished']);
    const lines: string[] = [];
    const part = await trainStack(runs, { resultsDir: join(dir, 'b'), backend, progress: false, stopAfterSteps: 12, notice: (l) => lines.push(l) });
    expect(part.map((o) => o.status)).toEqual(['interrupted', 'interrupted']);
    expect(summaryOf(join(dir, 'b', 'tiny', runs[0]!.run_id))['status']).toBe('interrupted');
    const rest = await trainStack(runs, { resultsDir: join(dir, 'b'), backend, progress: false, notice: (l) => lines.push(l) });
    expect(rest.map((o) => o.status)).toEqual(['finished', 'finished']);
    expect(lines.filter((l) => l.startsWith('resuming '))).toEqual(runs.map((r) => `resuming tiny/${r.run_id} from step 12`));
    for (const r of runs) {
      // The same lines (none twice: the resume dropped what it replays) with the same numbers.
      expectSameRun(join(dir, 'b', 'tiny', r.run_id), join(dir, 'a', 'tiny', r.run_id), r.run_id);
    }
    const again = await trainStack(runs, { resultsDir: join(dir, 'b'), backend, progress: false });
    expect(again.map((o) => o.status)).toEqual(['skipped', 'skipped']);
  }, 120_000);
});

describe('stacked sweep with micro-batches and recomputation (cpu)', () => {
  it('train.micro_batch_size and train.recompute give each replica the run alone', async () => {
    const text = BASE.replace('max_steps: 50', 'max_steps: 10, micro_batch_size: 6, recompute: true') + `sweep:\n  - { seed: [3, 4], train.lr: [3.0e-3, 1.0e-2] }\n`;
    const { dir, file } = configFile(text);
    const runs = loadExperiment(file).runs;
    expect(runs).toHaveLength(4);
    for (const r of runs) await trainAlone(r, join(dir, 'alone'));
    const outs = await trainStack(runs, { resultsDir: join(dir, 'stack'), backend, progress: false });
    expect(outs.map((o) => o.status)).toEqual(['finished', 'finished', 'finished', 'finished']);
    for (const r of runs) expectSameRun(join(dir, 'stack', 'tiny', r.run_id), join(dir, 'alone', 'tiny', r.run_id), r.run_id);
  }, 120_000);
});

describe('which runs stack (stack_plan.ts)', () => {
  /** BASE with more train keys, e.g. `stack: 2`. */
  const base = (train: string): string => BASE.replace('log_every: 1 }', `log_every: 1, ${train} }`);
  const plan = (text: string, backendName = 'cpu', progress: (r: RunSpec) => number | 'finished' = () => 0): { groups: string[][]; runs: RunSpec[] } => {
    const { file } = configFile(text);
    const runs = loadExperiment(file).runs;
    const groups = planStacks(file, runs, backendName, progress).map((g) => g.map((r) => String(r.point['train.lr'] ?? r.run_id) + (r.point['model.d_model'] !== undefined ? `@${String(r.point['model.d_model'])}` : '')));
    return { groups, runs };
  };
  const fails = (text: string): string => {
    const { file } = configFile(text);
    try {
      planStacks(file, loadExperiment(file).runs, 'cpu', () => 0);
    } catch (e) {
      return (e as Error).message.replace(file, 'FILE');
    }
    return 'no error';
  };

  it('groups runs that differ only in replica keys, at most N per stack, in run order', () => {
    const { groups } = plan(`${base('stack: 2')}sweep:\n  - { model.d_model: [16, 32], train.lr: [1.0e-3, 2.0e-3, 3.0e-3] }\n`);
    expect(groups).toEqual([['0.001@16', '0.002@16'], ['0.003@16'], ['0.001@32', '0.002@32'], ['0.003@32']]);
  });

  it('auto stacks on webgpu and not on the CPU backends; off and absent never stack', () => {
    const sweep = 'sweep:\n  - { train.lr: [1.0e-3, 2.0e-3] }\n';
    const withStack = (s: string): string => `${base(`stack: ${s}`)}${sweep}`;
    expect(plan(withStack('auto'), 'webgpu').groups).toEqual([['0.001', '0.002']]);
    expect(plan(withStack('auto'), 'wasm').groups).toEqual([['0.001'], ['0.002']]);
    expect(plan(withStack('off'), 'webgpu').groups).toEqual([['0.001'], ['0.002']]);
    expect(plan(BASE + sweep, 'webgpu').groups).toEqual([['0.001'], ['0.002']]);
  });

  it('runs at different steps, or finished, do not stack together; finished ones raise no error', () => {
    const { file } = configFile(`${base('stack: 2')}sweep:\n  - { train.lr: [1.0e-3, 2.0e-3, 3.0e-3] }\n`);
    const runs = loadExperiment(file).runs;
    const steps = new Map([[runs[0]!, 10], [runs[1]!, 0], [runs[2]!, 10]]);
    expect(planStacks(file, runs, 'cpu', (r) => steps.get(r)!).map((g) => g.length)).toEqual([2, 1]);
    expect(planStacks(file, runs, 'cpu', () => 'finished').map((g) => g.length)).toEqual([1, 1, 1]);
  });

  it('one line naming the key when the asked stack cannot form', () => {
    const t = base('stack: 2');
    expect(fails(`${t}sweep:\n  - { model.d_model: [16, 32] }\n`)).toBe(
      'FILE: train.stack: 2: no two runs can stack: they differ in model.d_model (16 vs 32), which changes the model\'s tensors or its step. Only seed, train.lr, train.weight_decay, train.warmup_steps, train.schedule, train.min_lr_ratio, train.grad_clip, train.max_steps, train.epochs, train.eval_every, train.checkpoint_every, train.log_every, train.early_stop, train.stack may differ between replicas. Set train.stack: off, or sweep only those keys',
    );
    expect(fails(`${t}sweep:\n  - { train.batch_size: [8, 16] }\n`)).toMatch(/differ in train\.batch_size \(8 vs 16\)/);
    expect(fails(`${t.replace('mixer: { name: metala, num_heads: 2, key_dim_ratio: 1, conv_size: 2 }', 'mixer: { name: hgrn }')}sweep:\n  - { train.lr: [1.0e-3, 2.0e-3] }\n`)).toBe('FILE: train.stack: 2: mixer hgrn does not support stacked replicas yet. Set train.stack: off');
    expect(fails(`${t}sweep:\n  - { train.lr: [1.0e-3, 2.0e-3] }\n`)).toBe('no error');
  });

  it('train.stack is not part of the run id', () => {
    const a = loadExperiment(configFile(BASE).file).runs[0]!.run_id;
    const b = loadExperiment(configFile(BASE.replace('log_every: 1 }', 'log_every: 1, stack: 4 }')).file).runs[0]!.run_id;
    expect(b).toBe(a);
  });
});

describe('smoke sweep through the CLI (wasm)', () => {
  it('--dry-run says which runs would train together', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/metala.js'), 'train', 'configs/mqar-fig3-t256.yaml', '--dry-run', '--results', mkdtempSync(join(tmpdir(), 'metala-dry-'))], { cwd: REPO, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(48);
    expect(lines.filter((l) => l.endsWith('(stack 1: 4 runs)'))).toHaveLength(4);
    expect(lines.filter((l) => l.endsWith('(stack 12: 4 runs)'))).toHaveLength(4);
  });

  it('configs/smoke/mqar-sweep.yaml with train.stack=2 writes the run folders of train.stack=off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-stack-cli-'));
    const train = (results: string, stack: string): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, [join(REPO, 'bin/metala.js'), 'train', 'configs/smoke/mqar-sweep.yaml', '--backend', 'wasm', '--results', results, '--set', `train.stack=${stack}`, 'train.max_steps=4', 'train.eval_every=2'], {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, METALA_NO_GPU: '1' },
      });
    const stacked = train(join(dir, 's'), '2');
    expect(stacked.stderr).not.toMatch(/error|Warn/i);
    expect(stacked.status).toBe(0);
    expect(stacked.stdout.match(/finished .*\(stack of 2\)/g)).toHaveLength(2);
    const alone = train(join(dir, 'a'), 'off');
    expect(alone.status).toBe(0);
    const ids = [...alone.stdout.matchAll(/smoke\/mqar-sweep\/([0-9a-f]{10}) finished/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      const [s, a] = [join(dir, 's', 'smoke', 'mqar-sweep', id), join(dir, 'a', 'smoke', 'mqar-sweep', id)];
      expectSameRun(s, a, id);
      const strip = (x: Record<string, unknown>): Record<string, unknown> => {
        const { wall_s: _w, tokens_per_s: _t, stack: _s, git_commit: _g, best, final, ...rest } = x;
        const round = (e: unknown) => ({ ...(e as object), loss: Number((e as { loss: number }).loss.toPrecision(5)), perplexity: undefined });
        return { ...rest, best: round(best), final: round(final) };
      };
      expect(strip(summaryOf(s))).toEqual(strip(summaryOf(a)));
      expect(JSON.parse(readFileSync(join(s, 'config.json'), 'utf8')).run_id).toBe(id);
    }
  }, 180_000);
});
