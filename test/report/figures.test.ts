// SVG figures of `metala report` (src/report/figures/**) from fixture run folders and bench files in
// a temp dir: each SVG is well-formed XML with one line-mark group per series of its data, Fig. 3
// marks unfinished cells, and a figure without data is not written.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTable } from '../../src/report/aggregate.js';
import { fig3Points } from '../../src/report/figures/fig3_mqar.js';
import { runReport } from '../../src/report/report.js';
import { fig3_mqar } from '../../src/report/tables/fig3_mqar.js';
import { scanRuns } from '../../src/results/store.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let n = 0;
async function writeRun(root: string, f: { mixer: string; T: number; kv: number; d: number; lr: number; acc: number; status?: string; experiment?: string }): Promise<void> {
  const id = `fig${String(n++).padStart(3, '0')}`;
  const experiment = f.experiment ?? 'mqar/fig3';
  const dir = join(root, experiment, id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify({ experiment, run_id: id, task: { name: 'mqar', vocab_size: 8192, input_seq_len: f.T, num_kv_pairs: f.kv }, model: { backbone: 'lm', d_model: f.d, n_layers: 2, mixer: { name: f.mixer } }, train: { lr: f.lr }, seed: 1 }));
  await writeFile(join(dir, 'summary.json'), JSON.stringify({ run_id: id, experiment, status: f.status ?? 'finished', metric: 'accuracy', best: { accuracy: f.acc / 100, step: 20 }, final: {}, steps: 20, backend: 'cpu', device: 'test', wall_s: 1, seed: 1, git_commit: 'x' }));
  const lines = [1, 10, 20].map((s) => JSON.stringify({ step: s, loss: 5 - s / 10 })).concat([JSON.stringify({ step: 20, eval: { accuracy: f.acc / 100, loss: 1 } })]);
  await writeFile(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
}

/** Line-mark groups Vega writes: one per series (per facet cell). */
const lineGroups = (svg: string): number => (svg.match(/<g class="mark-line role-mark/g) ?? []).length;

describe('report figures', () => {
  it('Fig. 3, Fig. A2 and training curves: valid SVG, one line group per series, unfinished cells marked', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-fig-'));
    dirs.push(root);
    for (const [mixer, d, acc] of [['metala', 64, 40], ['metala', 128, 90], ['softmax', 64, 99], ['softmax', 128, 100]] as const) await writeRun(root, { mixer, T: 256, kv: 16, d, lr: 1e-3, acc });
    await writeRun(root, { mixer: 'metala', T: 512, kv: 64, d: 64, lr: 1e-3, acc: 5, status: 'running' });
    await writeRun(root, { mixer: 'metala', T: 512, kv: 64, d: 128, lr: 1e-3, acc: 7 });
    // a smoke setting beside Fig. 3's: left to the table
    await writeRun(root, { mixer: 'gla', T: 64, kv: 4, d: 64, lr: 1e-3, acc: 50, experiment: 'smoke/mqar' });
    await mkdir(join(root, 'bench'), { recursive: true });
    const rec = (mixer: string, T: number, tok: number) => ({ mixer: { name: mixer }, d_model: 64, n_layers: 2, batch: 1, seq_len: T, vocab_size: 256, backend: 'webgpu', device: 'test', params: 1, train_step_ms: 1, train_tokens_per_s: tok, infer_tokens_per_s: 1, peak_bytes: 1, gpu_bytes_allocated: T * 2 ** 20 });
    await writeFile(join(root, 'bench', 'long.json'), JSON.stringify({ created: '2026-01-01T00:00:00Z', settings: 's', results: [rec('metala', 1024, 900), rec('metala', 2048, 800), rec('softmax', 1024, 700), rec('softmax', 2048, 300)] }));
    await writeFile(join(root, 'bench', 'one-length.json'), JSON.stringify({ created: '2026-01-02T00:00:00Z', settings: 's', results: [rec('metala', 512, 1000)] }));

    const r = await runReport({ resultsDir: root, outDir: join(root, 'tables') });
    const figs = join(root, 'figures');
    expect(r.figures.map((f) => f.slice(figs.length + 1)).sort()).toEqual(['curves/mqar__fig3.svg', 'curves/smoke__mqar.svg', 'fig3_mqar.svg', 'figA2_efficiency.svg']);
    for (const f of r.figures) expect(XMLValidator.validate(await readFile(f, 'utf8')), f).toBe(true);

    const fig3 = await readFile(join(figs, 'fig3_mqar.svg'), 'utf8');
    // T=256: metala and softmax; T=512: metala. The smoke setting is not drawn.
    expect(lineGroups(fig3)).toBe(3);
    expect(fig3).toContain('T = 256, 16 KV pairs');
    expect(fig3).not.toContain('T = 64, 4 KV pairs');
    // the one cell with an unfinished run is the one drawn as a cross
    const pts = fig3Points(buildTable(fig3_mqar, (await scanRuns(root)).runs));
    expect(pts.filter((p) => p.status === 'unfinished')).toEqual([expect.objectContaining({ mixer: 'metala', d_model: 64, panel: 'T = 512, 64 KV pairs', accuracy: 5 })]);
    expect(pts.length).toBe(6);

    const eff = await readFile(join(figs, 'figA2_efficiency.svg'), 'utf8');
    // one file with two lengths × (tokens/s, memory) × 2 mixers; the one-length file is not drawn
    expect(lineGroups(eff)).toBe(4);
    expect(eff).toContain('long.json');
    expect(eff).not.toContain('one-length.json');

    const curves = await readFile(join(figs, 'curves', 'mqar__fig3.svg'), 'utf8');
    // 6 runs × (train loss, eval accuracy)
    expect(lineGroups(curves)).toBe(12);
    expect(curves).toContain('metala d=128 T=512 kv=64');
  });

  it('writes no figure without data', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-fig-'));
    dirs.push(root);
    const r = await runReport({ resultsDir: root, outDir: join(root, 'tables') });
    expect(r.figures).toEqual([]);
    await expect(readdir(join(root, 'figures'))).rejects.toThrow(/ENOENT/);
  });
});
