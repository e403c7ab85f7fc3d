// The in-context regression study end to end: the committed configs give the spec's theory values
// (E1–E6), the task's prompts and batches, the two one-layer models against their formulas in
// float64, a real training run reaching the PGD risk, the report's theory column, and bad input as
// one line with exit 2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { XMLValidator } from 'fast-xml-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../../src/backend/index.js';
import { loadExperiment } from '../../../src/config/load.js';
import type { IclConfig } from '../../../src/models/icl_config.js';
import { iclParamCount } from '../../../src/models/icl_config.js';
import { InContextRegressor } from '../../../src/models/icl.js';
import { iclLinreg, iclPgdTestRisk, iclTheoryRisk, type IclOptions } from '../../../src/tasks/icl/task.js';
import { trainRun } from '../../../src/train/loop.js';
import { Rng } from '../../../src/util/rng.js';
import { REPO } from '../../helpers/golden.js';

let backend: BackendInfo;
beforeAll(async () => {
  backend = await initBackend('cpu');
});

const round3 = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(3)));

/** The theory values of a committed config's runs in sweep order, consecutive repeats (forms, seeds) merged. */
function theoryOf(file: string): (number | undefined)[] {
  const all = loadExperiment(resolve(REPO, 'configs/icl', file)).runs.map((r) => {
    const m = r.model as IclConfig;
    return round3(iclTheoryRisk(r.task as unknown as IclOptions, m.form, m.rank));
  });
  return all.filter((v, i) => i === 0 || v !== all[i - 1]);
}

describe('configs/icl: the spec reference values (docs/seed-systems.md §5, d = 10)', () => {
  it('E1–E6 give the theory table', () => {
    expect(theoryOf('e1-iid.yaml')).toEqual([6.875, 5.238, 3.548, 2.157, 1.209]);
    expect(theoryOf('e2-noise.yaml')).toEqual([7.059, 5.455, 3.75, 2.308, 1.304]);
    expect(theoryOf('e3-correlated.yaml')).toEqual([5.617, 4.258, 2.984, 1.911, 1.123]);
    expect(theoryOf('e4-rag.yaml')).toEqual([3.548, 2.895, 2.121, 1.726]);
    // Linear attention's risk, then H3's (its filter can weigh the noisy pairs down).
    expect(theoryOf('e5-step-noise.yaml')).toEqual([5.402, 4.573]);
    expect(theoryOf('e6-low-rank.yaml')).toEqual([7.512, 4.752, 3.007]);
  });
});

describe('the PGD optimum on a run\'s own test prompts', () => {
  it('agrees with the closed form within 4 standard errors (E1 n = 20, E3 n = 10, E4 α = 0.4, E5 both forms, E6 r = 3)', () => {
    const cases: [Record<string, unknown>, 'linear_attention' | 'h3', number?][] = [
      [{ context_len: 20 }, 'linear_attention'],
      [{ context_len: 10, task_cov: 'equicorrelated' }, 'linear_attention'],
      [{ context_design: 'rag', rag_alpha: 0.4 }, 'h3'],
      [{ noise_var: 25, noise_schedule: 'step' }, 'linear_attention'],
      [{ noise_var: 25, noise_schedule: 'step' }, 'h3'],
      [{ task_cov: 'decaying' }, 'linear_attention', 3],
    ];
    for (const [extra, form, rank] of cases) {
      const o = iclLinreg.options.parse({ ...extra, test_prompts: 4000 });
      const r = iclPgdTestRisk(o, 1, form, rank)!;
      expect(Math.abs(r.mean - iclTheoryRisk(o, form, rank)!), JSON.stringify(extra)).toBeLessThan(4 * r.se);
    }
    // No closed-form predictor: a rank between 1 and d with tied eigenvalues.
    expect(iclPgdTestRisk(iclLinreg.options.parse({ task_cov: 'equicorrelated' }), 0, 'linear_attention', 3)).toBeUndefined();
  });
});

describe('icl_linreg data', () => {
  const o = iclLinreg.options.parse({ dim: 3, context_len: 4, train_prompts: 10, test_prompts: 7 });
  it('batches are [B, n+1, d+1] prompts with targets; the query token ends in 0; fresh prompts per epoch, a fixed test set', () => {
    const data = iclLinreg.makeData(o, 0);
    const [b0, b1] = [...data.train.batches(4, new Rng(1))];
    expect([b0!.batch, b0!.seqLen, b0!.featureDim, b0!.features!.length, b0!.targets!.length]).toEqual([4, 5, 4, 4 * 5 * 4, 4]);
    expect([...data.train.batches(4, new Rng(1))].map((b) => b.batch)).toEqual([4, 4, 2]);
    for (let p = 0; p < 4; p++) expect(b0!.features![(p * 5 + 4) * 4 + 3]).toBe(0);
    // Two batches of one epoch differ; the same epoch seed replays; another seed draws new prompts.
    expect(b0!.features).not.toEqual(b1!.features);
    expect([...data.train.batches(4, new Rng(1))][0]!.features).toEqual(b0!.features);
    expect([...data.train.batches(4, new Rng(2))][0]!.features).not.toEqual(b0!.features);
    const t1 = [...data.test.batches(3)];
    expect(t1.map((b) => b.batch)).toEqual([3, 3, 1]);
    expect([...iclLinreg.makeData(o, 0).test.batches(3)][0]!.features).toEqual(t1[0]!.features);
  });

  it('the target is the noise-free xᵀβ: with σ² = 0 it is exactly recoverable from the context (n ≥ d)', () => {
    const data = iclLinreg.makeData(iclLinreg.options.parse({ dim: 3, context_len: 6, test_prompts: 5 }), 3);
    const b = [...data.test.batches(5)][0]!;
    const F = 4;
    for (let p = 0; p < 5; p++) {
      // Least squares on the first 3 pairs solves β (3×3 system), then xᵀβ.
      const row = (i: number) => Array.from({ length: 3 }, (_, j) => b.features![(p * 7 + i) * F + j]!);
      const A = [row(0), row(1), row(2)];
      const y = [0, 1, 2].map((i) => b.features![(p * 7 + i) * F + 3]!);
      const det = (m: number[][]) => m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) - m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) + m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!);
      const beta = [0, 1, 2].map((j) => det(A.map((r, i) => r.map((v, k) => (k === j ? y[i]! : v)))) / det(A));
      const x = row(6);
      expect(x.reduce((a, v, j) => a + v * beta[j]!, 0)).toBeCloseTo(b.targets![p]!, 3);
    }
  });
});

describe('icl models', () => {
  const cfg = (form: 'linear_attention' | 'h3', rank = 4): IclConfig => ({ backbone: 'icl', form, rank, init_scale: 1, d_model: 4, seq_len: 6 });

  it('sparse init: q and k start without the label row, v reads only the label', () => {
    const m = new InContextRegressor({ ...cfg('linear_attention', 3), init: 'sparse' }, 1);
    // [F, r] = [4, 3]: rows 0..2 (x) random, row 3 (y) zero; w_v = e_y.
    for (const n of ['q_proj.weight', 'k_proj.weight']) {
      const w = Array.from(m.params.vars.get(n)!.dataSync());
      expect(w.slice(9), n).toEqual([0, 0, 0]);
      expect(w.slice(0, 9).every((x) => x !== 0), n).toBe(true);
    }
    expect(Array.from(m.params.vars.get('v_proj.weight')!.dataSync())).toEqual([0, 0, 0, 1]);
    m.dispose();
  });

  it.each(['linear_attention', 'h3'] as const)('%s: ŷ = (1/n) Σ_i f_{n+1−i} (q_{n+1}·k_i) v_i in float64; parameter count', (form) => {
    const c = cfg(form, 2);
    const m = new InContextRegressor(c, 5);
    expect(m.params.count()).toBe(iclParamCount(c));
    const f = form === 'h3' ? Float32Array.from({ length: 6 }, (_, l) => 1 + 0.3 * Math.sin(l)) : undefined;
    if (f !== undefined) m.params.vars.get('filter')!.assign(tf.tensor1d(f));
    const B = 3;
    const z = Float32Array.from({ length: B * 6 * 4 }, (_, i) => Math.cos(1.7 * i));
    const got = m.predict(tf.tensor3d(z, [B, 6, 4])).dataSync();
    const W = (n: string) => m.params.vars.get(n)!.dataSync();
    const [wq, wk, wv] = [W('q_proj.weight'), W('k_proj.weight'), W('v_proj.weight')];
    for (let b = 0; b < B; b++) {
      const tok = (t: number, c2: number) => z[(b * 6 + t) * 4 + c2]!;
      const proj = (w: ArrayLike<number>, t: number, j: number, cols: number) => [0, 1, 2, 3].reduce((a, c2) => a + tok(t, c2) * w[c2 * cols + j]!, 0);
      let want = 0;
      for (let i = 0; i < 6; i++) {
        let qk = 0;
        for (let j = 0; j < 2; j++) qk += proj(wq, 5, j, 2) * proj(wk, i, j, 2);
        want += (f === undefined ? 1 : f[5 - i]!) * qk * proj(wv, i, 0, 1);
      }
      expect(got[b]!).toBeCloseTo(want / 5, 4);
    }
    // The learned filter is reported by position (last = the query token); linear attention has none.
    if (form === 'h3') expect(m.learned().filter_by_position!.map((x) => round3(x))).toEqual([...f!].reverse().map((x) => round3(x)));
    else expect(m.learned()).toEqual({});
    m.dispose();
  });
});

/** A config file in a fresh folder. */
function write(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'metala-icl-'));
  const file = join(dir, 'icl.yaml');
  writeFileSync(file, text);
  return { dir, file };
}

const SMALL = `name: icl/small
task: { name: icl_linreg, dim: 4, context_len: 8, train_prompts: 25600, test_prompts: 4000 }
model: { backbone: icl, form: linear_attention }
train: { batch_size: 256, max_steps: 1500, lr: 3.0e-3, weight_decay: 0, grad_clip: 0, eval_every: 500 }
`;

describe('icl study through the training loop and the report', () => {
  it('linear attention trained on fresh prompts reaches the PGD risk (d = 4, n = 8) within 5%; report shows the theory column', async () => {
    const { dir, file } = write(SMALL);
    const spec = loadExperiment(file).runs[0]!;
    const out = await trainRun(spec, { resultsDir: dir, backend, progress: false });
    expect(out.status).toBe('finished');
    const summary = JSON.parse(readFileSync(join(dir, 'icl/small', spec.run_id, 'summary.json'), 'utf8'));
    expect(summary.metric).toBe('excess_risk');
    const theory = iclTheoryRisk(spec.task as unknown as IclOptions, 'linear_attention')!;
    expect(theory).toBeCloseTo((4 * 5) / (8 + 5), 6);
    // Test set of 4000 prompts: standard error ≈ R·√2/√4000 ≈ 2.2% of R.
    expect(summary.best.excess_risk / theory).toBeGreaterThan(0.95);
    expect(summary.best.excess_risk / theory).toBeLessThan(1.05);
    expect(summary.best.accuracy).toBeNull();
    const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'report', '--results', dir, '--only', 'icl_linreg'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const md = readFileSync(join(dir, 'tables', 'icl_linreg.md'), 'utf8');
    expect(md).toMatch(/\| setting \| LA ours \| LA PGD \| LA Δ \|/);
    // The reference is the PGD optimum on the run's own test prompts; training reaches it within 2%.
    const pgd = iclPgdTestRisk(spec.task as unknown as IclOptions, spec.seed, 'linear_attention')!;
    expect(Math.abs(pgd.mean - theory)).toBeLessThan(4 * pgd.se);
    expect(Math.abs(summary.best.excess_risk / pgd.mean - 1)).toBeLessThan(0.02);
    expect(md).toContain(`| small, n = 8 | ${summary.best.excess_risk.toFixed(3)} | ${pgd.mean.toFixed(3)} | `);
    // The figure: one panel, a line for the measured cell's series and one for its theory.
    const svg = readFileSync(join(dir, 'figures', 'icl_linreg.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect((svg.match(/<g class="mark-line role-mark/g) ?? []).length).toBe(2);
    expect(svg).toContain('small (n)');
  }, 120_000);

  it('bad input is one line, exit 2', () => {
    const cases: [string, RegExp][] = [
      [SMALL.replace('context_len: 8', 'context_len: 8, rag_alpha: 0.3'), /icl\.yaml: task\.rag_alpha: only the rag design uses rag_alpha/],
      [SMALL.replace('form: linear_attention', 'form: linear_attention, rank: 9'), /icl\.yaml: model\.rank: 9 is above the token width 5/],
      [SMALL.replace('form: linear_attention', 'form: softmax'), /icl\.yaml: model\.form: /],
      [SMALL.replace('name: icl_linreg, dim: 4, context_len: 8, train_prompts: 25600, test_prompts: 4000', 'name: mqar, vocab_size: 128, input_seq_len: 64, num_kv_pairs: 4'), /icl\.yaml: model\.backbone: 'icl' reads real-valued prompts; use task\.name: icl_linreg/],
      [SMALL.replace('model: { backbone: icl, form: linear_attention }', 'model: { d_model: 8, n_layers: 1, mixer: { name: metala } }'), /icl\.yaml: model\.backbone: 'lm' reads token ids, but task icl_linreg has real-valued prompts; use backbone: icl/],
    ];
    for (const [text, pattern] of cases) {
      const { file } = write(text);
      const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'validate', file], { encoding: 'utf8' });
      expect(r.status, text).toBe(2);
      expect(r.stderr.trim().split('\n'), text).toEqual([expect.stringMatching(pattern)]);
    }
  });
});
