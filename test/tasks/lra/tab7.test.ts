// End to end: the one training loop trains the classifier backbone on LRA tasks (generated ListOps,
// bidirectional; Retrieval fixture, two towers) from YAML configs, and `metala report` renders
// Tab. 7 from the runs present: ours beside the paper, AVG only for rows with all six tasks.
import assert from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/index.js';
import type { BackendInfo } from '../../../src/backend/index.js';
import { loadExperiment } from '../../../src/config/load.js';
import { runReport } from '../../../src/report/report.js';
import { lraAverage } from '../../../src/report/tables/tab7_lra.js';
import { trainRun } from '../../../src/train/loop.js';

let backend: BackendInfo;
beforeAll(async () => {
  backend = await initBackend('cpu');
});

const FIX = join(import.meta.dirname, 'fixtures');

function config(dir: string, name: string, body: string): string {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, body);
  return f;
}

/** A finished run folder with a given best accuracy, as the loop writes it. */
function fakeRun(results: string, id: string, task: Record<string, unknown>, mixer: string, acc: number): void {
  const dir = join(results, 'lra', 'fake', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ experiment: 'lra/fake', run_id: id, task, model: { backbone: 'classifier', d_model: 8, n_layers: 1, mixer: { name: mixer } }, train: { lr: 1e-3 }, seed: 0 }));
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ run_id: id, status: 'finished', metric: 'accuracy', best: { accuracy: acc, step: 10 }, final: { accuracy: acc, step: 10 }, steps: 10 }));
}

describe('LRA training and Tab. 7', () => {
  it('trains the classifier on generated ListOps and on Retrieval pairs, then renders Tab. 7', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-lra-'));
    const results = join(dir, 'results');
    const listops = config(dir, 'listops', `
name: lra/listops-tiny
task: { name: lra_listops, source: generated, train_examples: 64, test_examples: 16, min_length: 5, max_length: 40, max_depth: 3, max_args: 4, pad_multiple: 8 }
model: { backbone: classifier, d_model: 8, n_layers: 1, mixer: { name: metala, num_heads: 2, conv_size: 2 }, channel_mixer: { name: glu, hidden: 16 }, bidirectional: true, pooling: cls }
train: { batch_size: 8, max_steps: 6, lr: 3.0e-3, eval_every: 3, log_every: 1 }
`);
    const retrieval = config(dir, 'retrieval', `
name: lra/retrieval-tiny
task: { name: lra_retrieval, data_dir: ${JSON.stringify(join(FIX, 'tsv_data'))}, max_length: 64, pad_multiple: 16 }
model: { backbone: classifier, d_model: 8, n_layers: 1, mixer: { name: metala, num_heads: 2, conv_size: 2 }, bidirectional: true, dual_tower: true }
train: { batch_size: 2, max_steps: 3, lr: 1.0e-3, eval_every: 3 }
`);
    for (const f of [listops, retrieval]) {
      const spec = loadExperiment(f).runs[0]!;
      assert(spec.model.backbone === 'classifier');
      const out = await trainRun(spec, { resultsDir: results, backend, progress: false });
      expect(out.status).toBe('finished');
      const best = (out.summary['best'] as { accuracy: number }).accuracy;
      expect(best).toBeGreaterThanOrEqual(0);
      expect(best).toBeLessThanOrEqual(1);
      if (f === listops) {
        // Generated ListOps has a validation split: best = the test accuracy at the best validation step.
        const evals = readFileSync(join(out.dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; eval?: { accuracy: number }; val?: { accuracy: number } }).filter((l) => l.eval !== undefined);
        expect(evals.length).toBe(2);
        expect(evals.every((e) => e.val !== undefined)).toBe(true);
        const pick = evals.reduce((a, b) => (b.val!.accuracy > a.val!.accuracy ? b : a));
        const sb = out.summary['best'] as { accuracy: number; step: number; val: { accuracy: number } };
        expect([sb.step, sb.accuracy, sb.val.accuracy]).toEqual([pick.step, pick.eval!.accuracy, pick.val!.accuracy]);
      }
    }
    // One mixer with all six tasks: its AVG is the mean of the six.
    const accs = [0.5, 0.8, 0.7, 0.6, 0.9, 0.55];
    const tasks = [{ name: 'lra_listops' }, { name: 'lra_text' }, { name: 'lra_retrieval' }, { name: 'lra_image' }, { name: 'lra_pathfinder', resolution: 32 }, { name: 'lra_pathfinder', resolution: 128 }];
    tasks.forEach((t, i) => fakeRun(results, `h${i}`, t, 'hgrn', accs[i]!));
    const r = await runReport({ resultsDir: results, outDir: join(results, 'tables'), only: ['tab7_lra'] });
    expect(r.written[0]!.runs).toBe(8);
    const md = readFileSync(join(results, 'tables', 'lra.md'), 'utf8');
    const row = (name: string) => md.split('\n').find((l) => l.startsWith(`| ${name} |`))!.split('|').map((c) => c.trim());
    const hgrn = row('hgrn');
    // columns: mixer, then (ours, paper, Δ) × (ListOps, Text, Retrieval, Image, Pathfinder, Path-X, AVG)
    expect(hgrn.slice(2, 5)).toEqual(['50.0', '59.95', '-10.0']);
    expect(hgrn.slice(17, 20)).toEqual(['55.0', '97.50', '-42.5']);
    expect(hgrn.slice(20, 23)).toEqual(['67.5', '86.91', '-19.4']);
    const metala = row('metala');
    expect(metala[2]).toMatch(/^\d+\.\d$/); // our ListOps run
    expect(metala[8]).toMatch(/^\d+\.\d$/); // our Retrieval run
    expect(metala[20]).toBe('—'); // no AVG from two tasks
    expect(metala[21]).toBe('86.67');
    expect(md).toContain('AVG convention');
    expect(readFileSync(join(results, 'tables', 'lra.csv'), 'utf8')).toContain('hgrn,AVG,67.5,6,');
  });

  it('averages only complete rows', () => {
    const full: Record<string, number> = { ListOps: 60, Text: 90, Retrieval: 90, Image: 90, Pathfinder: 90, 'Path-X': 100 };
    expect(lraAverage((l) => full[l])).toBeCloseTo(520 / 6, 10);
    expect(lraAverage((l) => (l === 'Path-X' ? undefined : full[l]))).toBeUndefined();
  });

  it('every shipped LRA config validates with the classifier backbone', () => {
    for (const name of ['listops', 'text', 'retrieval', 'image', 'pathfinder', 'pathx']) {
      const spec = loadExperiment(resolve('configs', 'lra', `${name}.yaml`)).runs[0]!;
      assert(spec.model.backbone === 'classifier');
      expect(spec.train.schedule).toBe('cosine');
      expect(spec.model.bidirectional).toBe(!['listops', 'text'].includes(name));
    }
  });
});
