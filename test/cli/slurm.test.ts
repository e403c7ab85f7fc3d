// `metala train --executor slurm` and `metala status` against a real single-node Slurm (munge,
// slurmctld, slurmd; .ci/slurm-up.sh starts one in CI and exports SLURM_CONF): a 2-run sweep
// submitted as a job array ends with the summaries local runs give; a task signalled mid-run
// checkpoints, is requeued, resumes and ends with the same final metrics; bad executor options are
// one line, exit 2. Skipped (saying why) where no Slurm answers.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/golden.js';
import { TINY_CONFIG, tinyConfig } from '../helpers/tiny.js';

const slurmUp = (() => {
  const r = spawnSync('sinfo', ['-h', '-o', '%t'], { encoding: 'utf8' });
  return r.status === 0 && /idle|mix|alloc/.test(r.stdout);
})();
if (!slurmUp) process.stderr.write('slurm executor tests skipped: no Slurm answers here (sinfo); CI starts one with .ci/slurm-up.sh\n');

const CLI = resolve(REPO, 'bin/metala.js');
const env = { ...process.env, METALA_NO_GPU: '1' };
const metala = (args: string[], cwd: string) => spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8' });

async function until(what: string, ok: () => boolean, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${seconds} s waiting for ${what}`);
}

const summaryOf = (results: string, experiment: string, id: string) =>
  JSON.parse(readFileSync(join(results, experiment, id, 'summary.json'), 'utf8')) as { status: string; best: unknown; final: unknown; steps: number };

describe.skipIf(!slurmUp)('slurm executor', () => {
  it('a 2-run sweep as a job array: same summaries as local runs; status follows it', async () => {
    const { dir, file } = tinyConfig('sweep: { train.lr: [3.0e-3, 1.0e-3] }\n');
    const sub = metala(['train', file, '--backend', 'cpu', '--executor', 'slurm', '--results', 'slurm-results'], dir);
    expect(sub.status, sub.stderr).toBe(0);
    expect(sub.stdout).toMatch(/^submitted Slurm job array \d+: 2 run\(s\) of tiny \(0 finished\) → .*job-.*\.sh\nfollow it with: metala status /);
    const ids = metala(['train', file, '--dry-run'], dir).stdout.trim().split('\n').map((l) => l.split(' ')[0]!.split('/')[1]!);
    await until('both array tasks to finish', () => ids.every((id) => existsSync(join(dir, 'slurm-results', 'tiny', id, 'summary.json')) && summaryOf(join(dir, 'slurm-results'), 'tiny', id).status === 'finished'), 120);
    const st = metala(['status', file, '--results', 'slurm-results'], dir);
    expect(st.stdout).toMatch(/tiny: 2 finished\n$/);
    expect(st.stdout).toMatch(new RegExp(`^${ids[0]} finished +step 12/12 slurm \\d+_0 `, 'm'));
    // the same runs trained locally give the same numbers
    expect(metala(['train', file, '--backend', 'cpu', '--results', 'local-results'], dir).status).toBe(0);
    for (const id of ids) {
      const a = summaryOf(join(dir, 'slurm-results'), 'tiny', id);
      const b = summaryOf(join(dir, 'local-results'), 'tiny', id);
      expect(a.best).toEqual(b.best);
      expect(a.final).toEqual(b.final);
    }
    // submitting again finds nothing to do
    expect(metala(['train', file, '--backend', 'cpu', '--executor', 'slurm', '--results', 'slurm-results'], dir).stdout).toBe('nothing to submit: all 2 run(s) of tiny are finished\n');
  });

  it('a task signalled mid-run checkpoints, is requeued, resumes and ends with the uninterrupted run\'s final metrics', async () => {
    const { dir, file } = tinyConfig();
    writeFileSync(file, TINY_CONFIG.replace(/^train: .*$/m, 'train: { batch_size: 16, max_steps: 150, lr: 3.0e-3, eval_every: 50, log_every: 5, checkpoint_every: 1000 }'));
    const sub = metala(['train', file, '--backend', 'wasm', '--executor', 'slurm', '--results', 'r'], dir);
    expect(sub.status, sub.stderr).toBe(0);
    const job = /array (\d+)/.exec(sub.stdout)![1]!;
    const id = metala(['train', file, '--dry-run'], dir).stdout.split(' ')[0]!.split('/')[1]!;
    const metrics = join(dir, 'r', 'tiny', id, 'metrics.jsonl');
    await until('the task to log a few steps', () => existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 3, 60);
    expect(spawnSync('scancel', ['--signal=USR1', '--batch', `${job}_0`]).status).toBe(0);
    await until('the requeued task to finish', () => existsSync(join(dir, 'r', 'tiny', id, 'summary.json')) && summaryOf(join(dir, 'r'), 'tiny', id).status === 'finished', 150);
    const log = readFileSync(join(dir, 'r', 'tiny', 'slurm', `${job}_0.out`), 'utf8');
    expect(log).toMatch(/metala: USR1: checkpointing \w+ and requeueing task 0/);
    expect(log).toMatch(/interrupted tiny\/\w+ at step (\d+)\/150 \(checkpointed\)/);
    expect(log).toMatch(/restart 1\) trains/);
    expect(log).toMatch(/resuming tiny\/\w+ from step \d+/);
    expect(metala(['train', file, '--backend', 'wasm', '--results', 'local'], dir).status).toBe(0);
    const a = summaryOf(join(dir, 'r'), 'tiny', id);
    const b = summaryOf(join(dir, 'local'), 'tiny', id);
    expect(a.steps).toBe(150);
    expect(a.final).toEqual(b.final);
  });

  it('a broken sbatch option, a bad --time, --force: one line, exit 2', () => {
    const { dir, file } = tinyConfig();
    const bad = metala(['train', file, '--executor', 'slurm', '--sbatch-line=--no-such-option', '--results', 'r'], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: executor slurm: sbatch rejected the job \(.*\)\. Check --partition, --gres, --time and --sbatch-line \(script kept: .*\.sh\)$/)]);
    const time = metala(['train', file, '--executor', 'slurm', '--time', 'soon', '--results', 'r'], dir);
    expect(time.status).toBe(2);
    expect(time.stderr.trim()).toBe('error: train: executor time: use minutes, HH:MM:SS or D-HH:MM:SS');
    const force = metala(['train', file, '--executor', 'slurm', '--force', '--results', 'r'], dir);
    expect(force.status).toBe(2);
    expect(force.stderr.trim()).toMatch(/^error: --force with --executor slurm: /);
  });
});

describe('slurm job script (no Slurm needed)', () => {
  it('an executor block in the config is validated with it and changes no run id', () => {
    const { dir, file } = tinyConfig('executor: { name: slurm, gres: "gpu:1", time: "02:00:00", array_parallel: 4, sbatch: ["--account=lab"] }\n');
    const plain = tinyConfig();
    const a = metala(['train', file, '--dry-run'], dir).stdout;
    const b = metala(['train', plain.file, '--dry-run'], plain.dir).stdout;
    expect(a).toBe(b);
    const { dir: d2, file: f2 } = tinyConfig('executor: { name: slurm, nodes: 2 }\n');
    const r = metala(['validate', f2], d2);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: .*tiny\.yaml: executor\.nodes: unknown key 'nodes'/);
  });
});
