// The run folder's reliability on a real filesystem and real processes: one lock per run (a second
// process skips a locked run, a dead holder's lock is taken over), Ctrl-C leaves a resumable
// `interrupted` run and a re-run says where it resumes, metrics.jsonl has no replayed steps,
// orphaned checkpoint.tmp-* folders are removed, and corrupt run state is a one-line error.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../src/backend/index.js';
import { loadExperiment } from '../../src/config/load.js';
import { trainRun } from '../../src/train/loop.js';
import { LOCK_FILE, RunLock, truncateMetrics } from '../../src/train/run_folder.js';
import { REPO } from '../helpers/golden.js';
import { TINY_CONFIG, tinyConfig } from '../helpers/tiny.js';

let backend: BackendInfo;
beforeAll(async () => {
  backend = await initBackend('cpu');
});

const CLI = resolve(REPO, 'bin/metala.js');
const env = { ...process.env, METALA_NO_GPU: '1' };

/** A pid that surely belongs to no running process: one that just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

const steps = (metrics: string): number[] =>
  metrics
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss?: number })
    .filter((l) => l.loss !== undefined)
    .map((l) => l.step);

describe('run folder', () => {
  it('one lock per run: held by a live process → locked (nothing written); a dead holder\'s lock is taken over; another host\'s is respected', async () => {
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file).runs[0]!;
    const runDir = join(dir, 'tiny', spec.run_id);
    mkdirSync(runDir, { recursive: true });
    const held = await RunLock.acquire(runDir);
    expect(held).toBeInstanceOf(RunLock);
    expect(await RunLock.acquire(runDir)).toEqual({ heldBy: expect.stringMatching(new RegExp(`^pid ${process.pid} on `)) });
    const out = await trainRun(spec, { resultsDir: dir, backend, progress: false });
    expect(out.status).toBe('locked');
    expect(existsSync(join(runDir, 'summary.json'))).toBe(false);
    await (held as RunLock).release();

    writeFileSync(join(runDir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname(), since: '2026-01-01T00:00:00Z' }));
    const taken = await RunLock.acquire(runDir);
    expect(taken).toBeInstanceOf(RunLock);
    await (taken as RunLock).release();

    writeFileSync(join(runDir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'some-other-node', since: '2026-01-01T00:00:00Z' }));
    expect(await RunLock.acquire(runDir)).toEqual({ heldBy: 'pid 1 on some-other-node since 2026-01-01T00:00:00Z' });
  });

  it('two processes on one run: exactly one trains it, the other skips it; no step is logged twice', async () => {
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file).runs[0]!;
    const start = () =>
      new Promise<{ code: number | null; out: string; err: string }>((res) => {
        const p = spawn(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir], { env });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('close', (code) => res({ code, out, err }));
      });
    const [a, b] = await Promise.all([start(), start()]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const trained = [a, b].filter((r) => /\] tiny\/\S+ finished/.test(r.out));
    const other = [a, b].filter((r) => !/\] tiny\/\S+ finished/.test(r.out));
    expect(trained.length).toBe(1);
    // the other one either found it locked (while the first trained) or finished (after it)
    expect(other[0]!.err + other[0]!.out).toMatch(/another process is training it|skipped/);
    const runDir = join(dir, 'tiny', spec.run_id);
    const s = steps(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'));
    expect(new Set(s).size).toBe(s.length);
    expect(existsSync(join(runDir, LOCK_FILE))).toBe(false);
  });

  it('SIGINT stops after the step with a checkpoint and status interrupted (exit 130); a re-run resumes from that step without duplicated metrics', async () => {
    const { dir, file } = tinyConfig();
    // long enough to be interrupted mid-run
    writeFileSync(file, TINY_CONFIG.replace(/^train: .*$/m, 'train: { batch_size: 16, max_steps: 4000, lr: 3.0e-3, eval_every: 2000, log_every: 1, checkpoint_every: 1000 }'));
    const spec = loadExperiment(file).runs[0]!;
    const runDir = join(dir, 'tiny', spec.run_id);
    const r = await new Promise<{ code: number | null; err: string }>((res) => {
      const p = spawn(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir], { env });
      let err = '';
      let sent = false;
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      // interrupt once a few steps are logged
      const poll = setInterval(() => {
        const m = existsSync(join(runDir, 'metrics.jsonl')) ? readFileSync(join(runDir, 'metrics.jsonl'), 'utf8') : '';
        if (!sent && m.split('\n').length > 5) {
          sent = true;
          p.kill('SIGINT');
        }
      }, 50);
      p.on('close', (code) => {
        clearInterval(poll);
        res({ code, err });
      });
    });
    expect(r.code).toBe(130);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { status: string; steps: number };
    expect(summary.status).toBe('interrupted');
    expect(r.err).toContain(`interrupted tiny/${spec.run_id} at step ${summary.steps}/4000 (checkpointed); the same command resumes it`);
    expect(existsSync(join(runDir, LOCK_FILE))).toBe(false);
    // a re-run says where it resumes; stop it again quickly with a step budget
    const again = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir, '--max-minutes', '0.02'], { env, encoding: 'utf8' });
    expect(again.stderr).toContain(`resuming tiny/${spec.run_id} from step ${summary.steps}`);
    const s = steps(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'));
    expect(new Set(s).size).toBe(s.length);
    expect(s.slice().sort((x, y) => x - y)).toEqual(s);
  });

  it('after kill -9 the re-run drops the metrics lines past the last checkpoint before replaying those steps', async () => {
    const { dir, file } = tinyConfig();
    writeFileSync(file, TINY_CONFIG.replace(/^train: .*$/m, 'train: { batch_size: 16, max_steps: 4000, lr: 3.0e-3, eval_every: 2000, log_every: 1, checkpoint_every: 5 }'));
    const spec = loadExperiment(file).runs[0]!;
    const runDir = join(dir, 'tiny', spec.run_id);
    await new Promise<void>((res) => {
      const p = spawn(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir], { env });
      const poll = setInterval(() => {
        const m = existsSync(join(runDir, 'metrics.jsonl')) ? readFileSync(join(runDir, 'metrics.jsonl'), 'utf8') : '';
        if (m.split('\n').length > 13) p.kill('SIGKILL');
      }, 20);
      p.on('close', () => {
        clearInterval(poll);
        res();
      });
    });
    const before = steps(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'));
    const ckpt = JSON.parse(readFileSync(join(runDir, 'checkpoint', 'trainer_state.json'), 'utf8')) as { step: number };
    expect(Math.max(...before)).toBeGreaterThan(ckpt.step); // steps logged after the last checkpoint
    const again = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir, '--max-minutes', '0.02'], { env, encoding: 'utf8' });
    expect(again.stderr).toContain(`resuming tiny/${spec.run_id} from step ${ckpt.step}`);
    const s = steps(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'));
    expect(new Set(s).size).toBe(s.length);
    expect(s.slice().sort((x, y) => x - y)).toEqual(s);
  });

  it('a run folder without its checkpoint (copied back without it) trains from step 0 and replaces the earlier metrics', async () => {
    const { dir, file } = tinyConfig();
    writeFileSync(file, TINY_CONFIG.replace(/^train: .*$/m, 'train: { batch_size: 16, max_steps: 4000, lr: 3.0e-3, eval_every: 2000, log_every: 1, checkpoint_every: 1000 }'));
    const spec = loadExperiment(file).runs[0]!;
    const runDir = join(dir, 'tiny', spec.run_id);
    spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir, '--max-minutes', '0.02'], { env, encoding: 'utf8' });
    const first = steps(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'));
    expect(first.length).toBeGreaterThan(3);
    rmSync(join(runDir, 'checkpoint'), { recursive: true });
    const again = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir, '--max-minutes', '0.01'], { env, encoding: 'utf8' });
    expect(again.stderr).toContain(`tiny/${spec.run_id}: no checkpoint to resume from; training from step 0`);
    const s = steps(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'));
    expect(s[0]).toBe(1);
    expect(new Set(s).size).toBe(s.length);
    expect(s.slice().sort((x, y) => x - y)).toEqual(s);
  });

  it('removes a checkpoint.tmp-<pid> folder of a dead process; a corrupt summary.json or trainer_state.json is one line, exit 2', async () => {
    const { dir, file } = tinyConfig();
    const spec = loadExperiment(file).runs[0]!;
    const runDir = join(dir, 'tiny', spec.run_id);
    const orphan = join(runDir, `checkpoint.tmp-${deadPid()}`);
    mkdirSync(orphan, { recursive: true });
    const out = await trainRun(spec, { resultsDir: dir, backend, progress: false });
    expect(out.status).toBe('finished');
    expect(existsSync(orphan)).toBe(false);

    writeFileSync(join(runDir, 'summary.json'), '{"status": "finis');
    const bad = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir], { env, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n').filter((l) => !l.startsWith('metala: '))).toEqual([expect.stringMatching(/^error: .*summary\.json: corrupt \(.*\)\. Re-run with --force to retrain the run, or delete its folder$/)]);

    // Valid JSON that is not a run summary: read through the same schema the loop writes with.
    writeFileSync(join(runDir, 'summary.json'), JSON.stringify({ status: 'done', steps: 'twelve' }));
    const odd = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir], { env, encoding: 'utf8' });
    expect(odd.status).toBe(2);
    expect(odd.stderr).toMatch(/^error: .*summary\.json: corrupt \(status: .*\)\. Re-run with --force/m);

    writeFileSync(join(runDir, 'summary.json'), JSON.stringify({ status: 'interrupted' }));
    writeFileSync(join(runDir, 'checkpoint', 'trainer_state.json'), 'not json');
    const bad2 = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', dir], { env, encoding: 'utf8' });
    expect(bad2.status).toBe(2);
    expect(bad2.stderr).toMatch(/^error: .*trainer_state\.json: corrupt or unreadable .*--force/m);
    expect(bad2.stderr).not.toMatch(/    at /);
  });

  it('truncateMetrics drops lines past the checkpoint step and a line cut short', async () => {
    const { dir } = tinyConfig();
    const f = join(dir, 'metrics.jsonl');
    writeFileSync(f, ['{"step":1,"loss":2}', '{"step":2,"loss":1}', '{"step":2,"eval":{"accuracy":0.5}}', '{"step":3,"loss":0.5}', '{"step":4,"lo'].join('\n'));
    expect(await truncateMetrics(f, 2)).toBe(2);
    expect(readFileSync(f, 'utf8')).toBe('{"step":1,"loss":2}\n{"step":2,"loss":1}\n{"step":2,"eval":{"accuracy":0.5}}\n');
  });
});

// A real file system that fills up or is read-only: a small tmpfs (root can mount one; elsewhere skipped).
const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const d = mkdtempSync(join(tmpdir(), 'metala-mnt-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d]);
  if (r.status !== 0) return false;
  spawnSync('umount', [d]);
  return true;
})();

describe.skipIf(!canMount)('results on a full or read-only disk', () => {
  const mounted: string[] = [];
  afterAll(() => {
    for (const d of mounted) spawnSync('umount', [d]);
  });
  const mountTmpfs = (opts: string): string => {
    const d = mkdtempSync(join(tmpdir(), 'metala-mnt-'));
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', d]).status).toBe(0);
    mounted.push(d);
    return d;
  };

  it('a full disk while checkpointing: one line naming the folder, exit 2, the last good checkpoint kept; a read-only one: one line, exit 2', () => {
    const { file } = tinyConfig();
    // room for the config, a summary and one checkpoint (~70 KB), not for the temp copy of a second one
    const full = mountTmpfs('size=100k');
    const r = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', full], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    const errs = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
    expect(errs).toEqual([expect.stringMatching(/^error: .*: the disk is full \(ENOSPC\)\. Free space, or give --results a folder on a larger disk; the last good checkpoint is kept and the same command resumes$/)]);
    expect(r.stderr).not.toMatch(/    at /);

    const ro = mountTmpfs('size=64k,ro');
    const w = spawnSync(process.execPath, [CLI, 'train', file, '--backend', 'cpu', '--results', ro], { env, encoding: 'utf8' });
    expect(w.status).toBe(2);
    expect(w.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(/^error: .*: the file system is read-only \(EROFS\)\. Give --results a writable folder$/)]);
  });
});
