// Tab. 8 (ablation rows): our MQAR accuracies per variant beside the paper's LM scores; variants
// are kept out of the Fig. 3 table.
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runReport } from '../../src/report/report.js';

async function writeRun(root: string, id: string, variant: string | undefined, acc: number): Promise<void> {
  const dir = join(root, 'ablation/mqar', id);
  await mkdir(dir, { recursive: true });
  const config = {
    experiment: 'ablation/mqar',
    run_id: id,
    ...(variant === undefined ? {} : { variant }),
    task: { name: 'mqar', vocab_size: 256, input_seq_len: 128, num_kv_pairs: 8 },
    model: { backbone: 'lm', d_model: 64, n_layers: 2, mixer: { name: 'metala' } },
    train: { lr: 0.003 },
    seed: 0,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'summary.json'), JSON.stringify({ run_id: id, status: 'finished', best: { accuracy: acc, step: 10 } }));
}

describe('tab8_ablation', () => {
  it('rows in the paper order, ours per MQAR setting, paper LM columns beside', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-tab8-'));
    await writeRun(root, 'a', 'full', 0.91);
    await writeRun(root, 'b', 'wo_short_conv', 0.12);
    await writeRun(root, 'c', 'wo_self_aug', 0.88);
    await writeRun(root, 'd', 'fixed_decay', 0.3);
    const out = join(root, 'tables');
    const r = await runReport({ resultsDir: root, outDir: out, only: ['tab8_ablation', 'fig3_mqar'] });
    expect(r.written.map((w) => w.id)).toEqual(['tab8_ablation']);
    const md = await readFile(join(out, 'ablation.md'), 'utf8');
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
    const labels = rows.slice(1).map((l) => l.split('|')[1]!.trim());
    expect(labels.slice(0, 5)).toEqual(['MetaLA (full)', 'w/o self-aug', 'w/o short conv', 'w/ key', 'fixed decay (ours)']);
    const full = rows.find((l) => l.includes('MetaLA (full)'))!;
    expect(full).toContain('91.0');
    expect(full).toContain('42.52');
    const wkey = rows.find((l) => l.includes('w/ key'))!;
    expect(wkey).toContain('—');
    expect(wkey).toContain('40.80');
  });
});
