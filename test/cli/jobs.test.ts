// `metala train --jobs N`: the runs of a sweep train in parallel child processes, each result line
// is prefixed with its run id, a second invocation skips them all, and bad values are rejected.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/golden.js';
import { tinyConfig } from '../helpers/tiny.js';

function metala(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), ...args], { encoding: 'utf8', env: { ...process.env, METALA_NO_GPU: '1' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('train --jobs', () => {
  it('trains a two-run sweep in two processes, then skips both', () => {
    const { dir, file } = tinyConfig('sweep:\n  train.lr: [1.0e-3, 3.0e-3]\n');
    const results = join(dir, 'results');
    const t = metala(['train', file, '--backend', 'cpu', '--results', results, '--jobs', '2']);
    expect(t.code).toBe(0);
    expect(t.err).toMatch(/2 run\(s\) in 2 parallel processes/);
    const done = t.out.split('\n').filter((l) => / finished best accuracy \d\.\d{4}/.test(l));
    expect(done).toHaveLength(2);
    // Each line carries its run id, and each id names a finished run folder.
    const ids = done.map((l) => /^\[([0-9a-f]{10})\]/.exec(l)![1]!);
    expect(new Set(ids).size).toBe(2);
    expect(readdirSync(join(results, 'tiny')).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(JSON.parse(readFileSync(join(results, 'tiny', id, 'summary.json'), 'utf8')).status).toBe('finished');
    const again = metala(['train', file, '--backend', 'cpu', '--results', results, '--jobs', '2']);
    expect(again.code).toBe(0);
    expect(again.out.split('\n').filter((l) => / skipped /.test(l))).toHaveLength(2);
  });

  it('with train.stack, each process trains one stack: four runs as two stacks of two in two processes', () => {
    const { dir, file } = tinyConfig('sweep:\n  train.lr: [1.0e-3, 2.0e-3, 3.0e-3, 4.0e-3]\n');
    const results = join(dir, 'results');
    const t = metala(['train', file, '--backend', 'cpu', '--results', results, '--jobs', '2', '--set', 'train.stack=2']);
    expect(t.code).toBe(0);
    expect(t.err).toMatch(/4 run\(s\) \(2 stack\(s\)\) in 2 parallel processes/);
    const done = t.out.split('\n').filter((l) => / finished best accuracy \d\.\d{4} .*\(stack of 2\)/.test(l));
    expect(done).toHaveLength(4);
    const ids = readdirSync(join(results, 'tiny')).sort();
    expect(ids).toHaveLength(4);
    const stacks = ids.map((id) => (JSON.parse(readFileSync(join(results, 'tiny', id, 'summary.json'), 'utf8')) as { stack: { runs: string[] } }).stack.runs.slice().sort().join(','));
    // two distinct stacks, each naming two of the four runs, every run in exactly one
    expect(new Set(stacks).size).toBe(2);
    expect([...new Set(stacks)].flatMap((s) => s.split(',')).sort()).toEqual(ids);
  });

  it('rejects a non-positive --jobs with exit 2', () => {
    const { file } = tinyConfig();
    const r = metala(['train', file, '--jobs', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--jobs.*positive integer/);
  });
});
