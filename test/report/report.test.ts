// Report (src/report/**): renders the registered tables from fixture run folders written to a
// temp dir, checking exact Markdown cells (max over the LR sweep, `—` for missing) and that the
// long-format CSV parses back.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../src/report/registry.js';
import { runReport } from '../../src/report/report.js';
import type { ReportResult } from '../../src/report/report.js';
import { MetalaError } from '../../src/util/errors.js';

interface Fixture {
  mixer: string;
  T: number;
  kv: number;
  d: number;
  lr: number;
  acc?: number;
  status?: 'finished' | 'running' | 'failed';
  variant?: string;
  task?: string;
}

let n = 0;
async function writeRun(resultsDir: string, f: Fixture): Promise<void> {
  const id = `run${String(n++).padStart(3, '0')}`;
  const experiment = f.kv === 80 ? 'mqar/taba7' : 'mqar/fig3';
  const dir = join(resultsDir, experiment, id);
  await mkdir(join(dir, 'checkpoint'), { recursive: true });
  const config = {
    experiment,
    run_id: id,
    ...(f.variant === undefined ? {} : { variant: f.variant }),
    task: { name: f.task ?? 'mqar', vocab_size: 8192, input_seq_len: f.T, num_kv_pairs: f.kv, train_examples: 1000 },
    model: { backbone: 'lm', d_model: f.d, n_layers: 2, mixer: { name: f.mixer } },
    train: { lr: f.lr, epochs: 64, batch_size: 25 },
    seed: 123,
  };
  const summary = {
    run_id: id,
    experiment,
    status: f.status ?? 'finished',
    metric: 'accuracy',
    best: f.acc === undefined ? {} : { accuracy: f.acc, step: 100 },
    final: {},
    steps: 100,
    backend: 'cpu',
    device: 'test',
    wall_s: 1,
    seed: 123,
    git_commit: 'abc',
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'summary.json'), JSON.stringify(summary));
  await writeFile(join(dir, 'metrics.jsonl'), '');
}

/** Minimal RFC 4180 parser (quotes, doubled quotes, commas and newlines inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (ch !== '\r') field += ch;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

let root: string;
let results: string;
let out: string;
let report: ReportResult;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'metala-report-'));
  results = join(root, 'results');
  out = join(results, 'tables');
  const runs: Fixture[] = [
    // LR sweep of one cell: the table shows the max (99.1), the CSV says 2 runs and lr 1e-3.
    { mixer: 'softmax', T: 256, kv: 16, d: 64, lr: 1e-4, acc: 0.5 },
    { mixer: 'softmax', T: 256, kv: 16, d: 64, lr: 1e-3, acc: 0.991 },
    { mixer: 'softmax', T: 256, kv: 16, d: 64, lr: 1e-2, acc: 0.2 },
    { mixer: 'metala', T: 256, kv: 16, d: 64, lr: 1e-3, acc: 0.873 },
    { mixer: 'metala', T: 256, kv: 16, d: 128, lr: 1e-3, acc: 0.95, status: 'running' },
    { mixer: 'metala', T: 256, kv: 16, d: 128, lr: 1e-4, acc: 0.9 },
    { mixer: 'metala', T: 256, kv: 16, d: 64, lr: 1e-3, acc: 0.5, variant: 'no_conv' },
    { mixer: 'gla', T: 512, kv: 64, d: 64, lr: 1e-5, acc: 0.2 },
    // A gla run that has not evaluated yet: placed, but no value.
    { mixer: 'gla', T: 256, kv: 16, d: 64, lr: 1e-4 },
    // Smoke run: its own column group after the Fig. 3 settings.
    { mixer: 'metala', T: 64, kv: 4, d: 32, lr: 1e-3, acc: 1.0 },
    // Tab. A7 setting: only in the hard table.
    { mixer: 'metala', T: 512, kv: 80, d: 64, lr: 1e-4, acc: 0.25 },
    { mixer: 'metala', T: 512, kv: 80, d: 64, lr: 1e-3, acc: 0.3 },
    { mixer: 'mamba', T: 512, kv: 80, d: 128, lr: 1e-3, acc: 0.0 },
    { mixer: 'gla', T: 512, kv: 80, d: 256, lr: 1e-3, acc: 0.6 },
    // Not MQAR: in neither table.
    { mixer: 'metala', T: 256, kv: 16, d: 64, lr: 1e-3, acc: 0.7, task: 'lm' },
  ];
  for (const r of runs) await writeRun(results, r);
  // Malformed folders: skipped and reported.
  await mkdir(join(results, 'mqar', 'fig3', 'broken'), { recursive: true });
  await writeFile(join(results, 'mqar', 'fig3', 'broken', 'config.json'), '{"task":');
  await writeFile(join(results, 'mqar', 'fig3', 'broken', 'summary.json'), '{}');
  await mkdir(join(results, 'mqar', 'fig3', 'half'), { recursive: true });
  await writeFile(join(results, 'mqar', 'fig3', 'half', 'summary.json'), '{}');
  report = await runReport({ resultsDir: results, outDir: out });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('TABLES', () => {
  it('each spec exposes id, title, paperRef and files', () => {
    for (const [key, spec] of Object.entries(TABLES)) {
      expect(spec.id).toBe(key);
      expect(spec.title.length).toBeGreaterThan(0);
      expect(spec.paperRef.length).toBeGreaterThan(0);
      expect(spec.files[0]).toMatch(/\.csv$/);
      expect(spec.files[1]).toMatch(/\.md$/);
    }
    expect(TABLES.fig3_mqar.files).toEqual(['mqar.csv', 'mqar.md']);
    expect(TABLES.taba7_mqar_hard.files).toEqual(['mqar_hard.csv', 'mqar_hard.md']);
  });
});

describe('runReport', () => {
  it('writes both tables and reports the skipped folders', async () => {
    // The metala 'no_conv' variant run goes to the ablation table, not Fig. 3.
    expect(report.written.map((w) => w.id)).toEqual(['fig3_mqar', 'taba7_mqar_hard', 'tab8_ablation']);
    // Tables of other experiments (LRA, LM, …) have no runs in this fixture.
    for (const id of ['fig3_mqar', 'taba7_mqar_hard', 'tab8_ablation']) expect(report.empty).not.toContain(id);
    expect(report.runs).toBe(15);
    expect(report.skipped.map((s) => s.dir.slice(results.length + 1)).sort()).toEqual(['mqar/fig3/broken', 'mqar/fig3/half']);
    expect((await readdir(out)).sort()).toEqual(['ablation.csv', 'ablation.md', 'mqar.csv', 'mqar.md', 'mqar_hard.csv', 'mqar_hard.md']);
    expect(report.written[0]!.runs).toBe(9);
    expect(report.written[1]!.runs).toBe(4);
    expect(report.written[2]!.runs).toBe(1);
    expect([...report]).toEqual(['mqar.csv', 'mqar.md', 'mqar_hard.csv', 'mqar_hard.md', 'ablation.csv', 'ablation.md'].map((f) => join(out, f)));
  });

  it('renders Fig. 3 wide: max over the LR sweep, — for missing, Fig. 3 groups first', async () => {
    const md = await readFile(join(out, 'mqar.md'), 'utf8');
    const table = md.split('\n').filter((l) => l.startsWith('|'));
    expect(table).toEqual([
      '| mixer | T=256 kv=16 d=64 | T=256 kv=16 d=128 | T=512 kv=64 d=64 | T=64 kv=4 d=32 |',
      '| --- | ---: | ---: | ---: | ---: |',
      '| softmax | 99.1 | — | — | — |',
      '| gla | — | — | 20.0 | — |',
      '| metala | 87.3 | 95.0 * | — | 100.0 |',
    ]);
    expect(md).toMatch(/^# MQAR accuracy/);
    expect(md).toContain('UNVERIFIED');
    expect(md).toContain('n_runs');
    expect(md).toContain('`*` = the cell includes runs that are not finished');
    expect(md).not.toMatch(/\| 0\.0 \|/);
  });

  it('writes Fig. 3 long-format CSV that parses back', async () => {
    const rows = parseCsv(await readFile(join(out, 'mqar.csv'), 'utf8'));
    expect(rows[0]).toEqual(['mixer', 'seq_len', 'num_kv_pairs', 'd_model', 'accuracy', 'n_runs', 'best_lr', 'best_epochs', 'best_run_id', 'best_step', 'best_device', 'n_unfinished']);
    const body = rows.slice(1);
    expect(body.every((r) => r.length === rows[0]!.length)).toBe(true);
    const find = (mixer: string, T: string, d: string) => body.find((r) => r[0] === mixer && r[1] === T && r[3] === d);
    expect(find('softmax', '256', '64')).toEqual(['softmax', '256', '16', '64', '99.1', '3', '0.001', '2.5', 'run001', '100', 'cpu test', '0']);
    expect(find('metala', '256', '128')!.slice(4)).toEqual(['95', '2', '0.001', '2.5', 'run004', '100', 'cpu test', '1']);
    // Placed but not evaluated: empty accuracy, never 0.
    expect(find('gla', '256', '64')!.slice(4, 7)).toEqual(['', '0', '']);
    expect(find('softmax', '512', '64')).toBeUndefined();
    expect(body.length).toBe(6);
  });

  it('renders Tab. A7 with ours | paper | Δ, paper rows without runs included', async () => {
    const md = await readFile(join(out, 'mqar_hard.md'), 'utf8');
    const table = md.split('\n').filter((l) => l.startsWith('|'));
    expect(table).toEqual([
      '| mixer | d=64 ours | d=64 paper | d=64 Δ | d=128 ours | d=128 paper | d=128 Δ | d=256 ours | d=256 paper | d=256 Δ |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| softmax | — | >99.0 | — | — | >99.0 | — | — | — | — |',
      '| gla | — | — | — | — | — | — | 60.0 | — | — |',
      '| mamba | — | 0.0 | — | 0.0 | 0.0 | +0.0 | — | — | — |',
      '| metala | 30.0 | 28.5 | +1.5 | — | 90.4 | — | — | — | — |',
    ]);
    expect(md).toContain('Transformer = `softmax`');
  });

  it('writes Tab. A7 CSV with paper and delta columns', async () => {
    const rows = parseCsv(await readFile(join(out, 'mqar_hard.csv'), 'utf8'));
    expect(rows[0]).toEqual([
      'mixer', 'seq_len', 'num_kv_pairs', 'd_model', 'accuracy', 'n_runs', 'best_lr', 'best_epochs', 'best_run_id', 'best_step', 'best_device', 'n_unfinished', 'paper', 'delta',
    ]);
    const metala64 = rows.find((r) => r[0] === 'metala' && r[3] === '64')!;
    expect(metala64).toEqual(['metala', '512', '80', '64', '30', '2', '0.001', '2.5', 'run011', '100', 'cpu test', '0', '28.5', '1.5']);
    const softmax128 = rows.find((r) => r[0] === 'softmax' && r[3] === '128')!;
    expect(softmax128).toEqual(['softmax', '512', '80', '128', '', '0', '', '', '', '', '', '0', '>99.0', '']);
    expect(rows.length).toBe(1 + 7);
  });

  it('skips tables without matching runs and honours `only`', async () => {
    const empty = join(root, 'empty-results');
    await mkdir(empty, { recursive: true });
    await writeRun(empty, { mixer: 'gla', T: 64, kv: 4, d: 32, lr: 1e-3, acc: 0.4 });
    const out2 = join(root, 'out2');
    const r = await runReport({ resultsDir: empty, outDir: out2, only: ['taba7_mqar_hard'] });
    expect(r.written).toEqual([]);
    expect(r.empty).toEqual(['taba7_mqar_hard']);
    const r2 = await runReport({ resultsDir: empty, outDir: out2 });
    expect(r2.written.map((w) => w.id)).toEqual(['fig3_mqar']);
    expect((await readdir(out2)).sort()).toEqual(['mqar.csv', 'mqar.md']);
  });

  it('rejects an unknown table id with suggestions before writing anything', async () => {
    await expect(runReport({ resultsDir: results, outDir: join(root, 'out3'), only: ['fig3_mqr'] })).rejects.toThrow(MetalaError);
    await expect(runReport({ resultsDir: results, outDir: join(root, 'out3'), only: ['fig3_mqr'] })).rejects.toThrow(
      /unknown table 'fig3_mqr'\. Did you mean: fig3_mqar\?/,
    );
  });
});
