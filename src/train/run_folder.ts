// The run folder's life outside the training math (results/<experiment>/<run-id>/):
//   run.lock       who trains this run now (pid + host), so two processes (--jobs, Slurm array
//                  tasks, a second terminal) never train one run at once;
//   summary.json   read back before training (finished → skip); a corrupt one is a one-line error;
//   checkpoint.tmp-<pid>  left by a process killed while checkpointing: removed when that pid is gone;
//   metrics.jsonl  lines past the checkpoint a resume restarts from are dropped (they are replayed).
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { access, constants, open, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MetalaError } from '../util/errors.js';
import { atomicWriteFile, CHECKPOINT_DIR, parseRunSummary } from '../results/store.js';
import type { RunSummary } from '../results/store.js';

export const LOCK_FILE = 'run.lock';

interface LockInfo {
  pid: number;
  host: string;
  since: string;
}

/** Whether a process with this pid runs on this machine (signal 0 probes without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunLock {
  private constructor(private readonly file: string) {}

  /**
   * Takes the run's lock, or says who holds it. A lock of a process that is gone (same host, pid
   * not running) is stale and taken over; a lock from another host is respected (its process cannot
   * be probed from here), and the message says how to clear it.
   */
  static async acquire(dir: string): Promise<RunLock | { heldBy: string }> {
    const file = join(dir, LOCK_FILE);
    const mine: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const h = await open(file, 'wx');
        await h.writeFile(JSON.stringify(mine));
        await h.close();
        return new RunLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let held: LockInfo | undefined;
      try {
        held = JSON.parse(await readFile(file, 'utf8')) as LockInfo;
      } catch {
        held = undefined; // unreadable (a writer died mid-write): stale
      }
      const stale = held === undefined || typeof held.pid !== 'number' || (held.host === mine.host && !alive(held.pid));
      if (!stale) return { heldBy: `pid ${held!.pid} on ${held!.host} since ${held!.since}` };
      await rm(file, { force: true });
    }
    return { heldBy: `another process (the lock ${file} reappeared while taking it over)` };
  }

  async release(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

/** summary.json of an earlier attempt, or undefined; a corrupt file is a one-line error with the way out. */
export async function readPreviousSummary(path: string): Promise<RunSummary | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MetalaError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)}). Check the folder's permissions`, 2);
  }
  const r = parseRunSummary(text);
  if ('problem' in r) throw new MetalaError(`${path}: corrupt (${r.problem}). Re-run with --force to retrain the run, or delete its folder`, 2);
  return r.summary;
}

/** Removes checkpoint.tmp-<pid> folders whose process is gone (killed while checkpointing). */
export async function removeOrphanTmps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = new RegExp(`^${CHECKPOINT_DIR}\\.tmp-(\\d+)$`).exec(n);
    if (m === null || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    await rm(join(dir, n), { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

/**
 * Drops metrics.jsonl lines with step > `step` (written after the checkpoint a resume restarts
 * from; the resumed run writes them again), and a last line cut short by a crash.
 */
export async function truncateMetrics(path: string, step: number): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return 0;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((l) => {
    try {
      const s = (JSON.parse(l) as { step?: unknown }).step;
      return typeof s !== 'number' || s <= step;
    } catch {
      return false;
    }
  });
  if (kept.length === lines.length) return 0;
  await atomicWriteFile(path, kept.length > 0 ? `${kept.join('\n')}\n` : '');
  return lines.length - kept.length;
}

/** A state file of the checkpoint (trainer_state.json) as JSON, or a one-line error with the way out. */
export async function readCheckpointJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    throw new MetalaError(`${path}: corrupt or unreadable (${(e as Error).message.split('\n')[0]}). Re-run with --force to retrain the run from scratch, or delete its folder`, 2);
  }
}


/**
 * A write that failed for a reason of the disk, not of metala (full, read-only, no permission,
 * over quota) as a one-line error naming the path and the way out; undefined for anything else.
 * The last good checkpoint stays: checkpoints and summaries are written to a temp name and renamed.
 */
export function asStorageError(e: unknown, resultsDir: string): MetalaError | undefined {
  const err = e as NodeJS.ErrnoException;
  const where = err.path ?? resultsDir;
  switch (err.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new MetalaError(`${where}: the disk is full (${err.code}). Free space, or give --results a folder on a larger disk; the last good checkpoint is kept and the same command resumes`, 2);
    case 'EROFS':
      return new MetalaError(`${where}: the file system is read-only (EROFS). Give --results a writable folder`, 2);
    case 'EACCES':
    case 'EPERM':
      return new MetalaError(`${where}: permission denied (${err.code}). Give --results a folder you can write to`, 2);
    default:
      return undefined;
  }
}

/**
 * Fails early, with asStorageError's one line, when the results folder (or, if it does not exist
 * yet, its nearest existing parent) cannot be written: a read-only mount makes `mkdir -p` report
 * ENOENT instead, which would read like a bug.
 */
export async function assertWritable(dir: string): Promise<void> {
  let d = resolve(dir);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    await access(d, constants.W_OK);
  } catch (e) {
    throw asStorageError(e, d) ?? e;
  }
}
