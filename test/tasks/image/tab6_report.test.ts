// Tab. 6 renders from run folders: ImageNet tiny/small cells with ours | paper | Δ for accuracy and
// parameters, paper rows without runs, and the built-in small data set in its own column.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReport } from '../../../src/report/report.js';

let results: string;
let out: string;

async function run(id: string, task: Record<string, unknown>, model: Record<string, unknown>, acc: number, params: number): Promise<void> {
  const dir = join(results, 'img', id);
  await mkdir(dir, { recursive: true });
  const config = { experiment: 'img', run_id: id, task: { name: 'image_classification', ...task }, model: { backbone: 'vit', n_layers: 12, patch_size: 16, ...model }, train: { lr: 3e-4 }, seed: 0 };
  const summary = { run_id: id, experiment: 'img', status: 'finished', metric: 'accuracy', params, best: { accuracy: acc, step: 10 }, final: { accuracy: acc, step: 10 }, steps: 10 };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'summary.json'), JSON.stringify(summary));
}

beforeAll(async () => {
  results = await mkdtemp(join(tmpdir(), 'metala-tab6-'));
  out = join(results, 'tables');
  const imagenet = { dataset: 'ilsvrc2012', root: '/data/imagenet' };
  await run('a', imagenet, { d_model: 192, mixer: { name: 'metala' } }, 0.7012, 6_115_048);
  await run('b', imagenet, { d_model: 192, mixer: { name: 'metala' } }, 0.6511, 6_115_048);
  await run('c', imagenet, { d_model: 384, mixer: { name: 'softmax' } }, 0.8, 29_110_120);
  await run('d', { dataset: 'mnist' }, { d_model: 64, n_layers: 2, patch_size: 8, mixer: { name: 'metala' } }, 0.904, 110_000);
});
afterAll(() => rm(results, { recursive: true, force: true }));

const rows = (md: string) => md.split('\n').filter((l) => l.startsWith('| '));

describe('tab6_imagenet', () => {
  it('renders accuracy and parameters, ours | paper | Δ, with MNIST in its own column', async () => {
    const r = await runReport({ resultsDir: results, outDir: out, only: ['tab6_imagenet', 'tab6_imagenet_params'] });
    expect(r.written.map((w) => w.id)).toEqual(['tab6_imagenet', 'tab6_imagenet_params']);
    const acc = rows(await readFile(join(out, 'tab6_imagenet.md'), 'utf8'));
    expect(acc[0]).toBe('| mixer | tiny ours | tiny paper | tiny Δ | small ours | small paper | small Δ | mnist d64×2/p8 ours | mnist d64×2/p8 paper | mnist d64×2/p8 Δ |');
    expect(acc.find((l) => l.startsWith('| metala '))).toBe('| metala | 70.12 | 75.33 | -5.2 | — | 80.14 | — | 90.40 | — | — |');
    expect(acc.find((l) => l.startsWith('| softmax '))).toBe('| softmax | — | 72.20 | — | 80.00 | 79.90 | +0.1 | — | — | — |');
    expect(acc.find((l) => l.startsWith('| hgrn '))).toContain('| 74.40 |');
    const ps = rows(await readFile(join(out, 'tab6_imagenet_params.md'), 'utf8'));
    expect(ps.find((l) => l.startsWith('| metala '))).toBe('| metala | 6.1 | 6.1 | +0.0 | — | 23.7 | — | 0.110 | — | — |');
    const csv = await readFile(join(out, 'tab6_imagenet.csv'), 'utf8');
    expect(csv.split('\n')[0]).toBe('mixer,dataset,size,accuracy,n_runs,params_M,best_lr,best_run_id,best_step,best_device,n_unfinished,paper,delta');
    expect(csv).toContain('metala,imagenet,tiny,70.12,2,6.115,0.0003,a,10,,0,75.33,-5.21');
  });
});
