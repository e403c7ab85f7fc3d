// The state of each run of an experiment, read from disk (and squeue for Slurm-submitted runs):
//   finished / failed / interrupted: summary.json says so
//   running:      summary.json says running and a live process holds run.lock, or Slurm runs its task
//   interrupted:  summary.json says running but nothing trains it (a killed process; the next train resumes it)
//   pending:      no summary yet (queued on Slurm, or not started)
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { RunSpec } from '../config/schema.js';
import { parseRunSummary, SUMMARY_FILE } from '../results/store.js';
import type { RunSummary } from '../results/store.js';
import { LOCK_FILE } from '../train/run_folder.js';
import { slurmRecords, slurmTaskStates } from './slurm.js';

export interface RunStatusRow {
  run_id: string;
  status: 'finished' | 'running' | 'interrupted' | 'failed' | 'pending';
  detail: string;
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** summary.json through its schema; undefined when absent or unreadable (the run's own `train` names the problem). */
async function readSummary(path: string): Promise<RunSummary | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const r = parseRunSummary(text);
  return 'summary' in r ? r.summary : undefined;
}

function lockAlive(lock: Record<string, unknown> | undefined): boolean {
  if (lock === undefined || typeof lock['pid'] !== 'number') return false;
  if (lock['host'] !== hostname()) return true; // cannot probe another host: trust its lock
  try {
    process.kill(lock['pid'], 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function runStatuses(results: string, runs: RunSpec[]): Promise<RunStatusRow[]> {
  // The newest submission of each run decides which Slurm task is its.
  const taskOf = new Map<string, string>();
  const experiments = [...new Set(runs.map((r) => r.experiment))];
  for (const e of experiments) for (const rec of await slurmRecords(results, e)) rec.runs.forEach((id, i) => taskOf.set(id, `${rec.job_id}_${i}`));
  const states = slurmTaskStates([...new Set([...taskOf.values()].map((t) => t.split('_')[0]!))]);
  const rows: RunStatusRow[] = [];
  for (const r of runs) {
    const dir = join(results, r.experiment, r.run_id);
    const summary = await readSummary(join(dir, SUMMARY_FILE));
    const lock = existsSync(join(dir, LOCK_FILE)) ? await readJson(join(dir, LOCK_FILE)) : undefined;
    const task = taskOf.get(r.run_id);
    const slurm = task !== undefined ? states[task] : undefined;
    const slurmNote = task !== undefined ? `slurm ${task}${slurm !== undefined ? ` ${slurm}` : ''} ` : '';
    const steps = summary !== undefined ? `step ${String(summary.steps ?? 0)}/${String(summary.total_steps ?? '?')} ` : '';
    let status: RunStatusRow['status'];
    const s = summary?.status;
    if (s === 'finished' || s === 'failed' || s === 'interrupted') status = s;
    else if (s === 'running') status = lockAlive(lock) || slurm === 'RUNNING' ? 'running' : 'interrupted';
    else status = slurm === 'RUNNING' ? 'running' : 'pending';
    rows.push({ run_id: r.run_id, status, detail: `${steps}${slurmNote}${JSON.stringify(r.point)}`.trim() });
  }
  return rows;
}
