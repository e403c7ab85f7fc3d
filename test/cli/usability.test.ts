// CLI conveniences a new user reaches for: --set before or after the config path, validate on an
// eval task file, the zero-shot task list (metala list eval-tasks, metala eval --tasks list).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/golden.js';

function metala(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, METALA_NO_GPU: '1' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('CLI conveniences', () => {
  it('--set works before and after the config path (same runs)', () => {
    const after = metala(['train', 'configs/smoke/mqar.yaml', '--set', 'train.lr=1e-3', 'model.d_model=32', '--dry-run']);
    const before = metala(['train', '--set', 'train.lr=1e-3', 'model.d_model=32', 'configs/smoke/mqar.yaml', '--dry-run']);
    expect(after.code).toBe(0);
    expect(before.code).toBe(0);
    expect(before.out).toBe(after.out);
    expect(after.out).toMatch(/^smoke\/mqar\/[0-9a-f]{10} /);
    const none = metala(['train', '--dry-run']);
    expect(none.code).toBe(2);
    expect(none.err.trim()).toBe('error: train: no config given. Give one experiment YAML, e.g. metala train configs/smoke/mqar.yaml');
    const v = metala(['validate', '--set', 'train.lr=1e-3', 'configs/smoke/mqar.yaml']);
    expect(v.out).toBe('ok configs/smoke/mqar.yaml: 1 run(s) of smoke/mqar\n');
  });

  it('validate checks an eval task file as a task and says so', () => {
    const r = metala(['validate', 'configs/tasks/piqa.yaml', 'configs/smoke/mqar.yaml']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('ok configs/tasks/piqa.yaml: eval task piqa (metala eval --tasks piqa), not an experiment');
  });

  it('lists the zero-shot tasks with metric and data source, from list and from eval', () => {
    const l = metala(['list', 'eval-tasks']);
    expect(l.code).toBe(0);
    expect(l.out).toContain('| piqa | acc, acc_norm (acc) | multiple_choice | Hugging Face baber/piqa | validation |');
    const e = metala(['eval', '--tasks', 'list']);
    expect(e.code).toBe(0);
    expect(e.out).toBe(l.out);
    const missing = metala(['eval', '--tasks', 'piqa']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^error: eval: --checkpoint is required/);
  });
});
