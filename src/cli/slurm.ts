// `metala train CONFIG --executor slurm`: one Slurm job array per call, one array task per pending
// run, each task running `metala train CONFIG --only <run-id>` in this checkout. Tasks checkpoint
// and requeue themselves when Slurm signals them before a time limit or a preemption (USR1 via
// --signal; metala stops after its step on SIGTERM, and the requeued task resumes from the
// checkpoint), so a long run spans as many allocations as it needs.
// Files: <results>/<experiment>/slurm/job-<time>.sh (the script), job-<id>.json (run id ↔ task
// index, read by `metala status`), <job>_<task>.out (each task's log, appended across requeues).
// Notes from ../shared/docs/slurm-on-debian.md: without slurmdbd `sacct` has nothing, so states
// come from squeue; a requeued task waits ~120 s (BeginTime) unless its start time is reset, which
// a detached helper does right after the requeue.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoadedExperiment } from '../config/load.js';
import type { ExecutorConfig, RunSpec } from '../config/schema.js';
import { atomicWriteFile, parseRunSummary, SUMMARY_FILE } from '../results/store.js';
import { MetalaError } from '../util/errors.js';

/** What `metala status` and the submission record know about one submitted job array. */
export interface SlurmJobRecord {
  job_id: string;
  script: string;
  submitted: string;
  /** run ids in array-task order (task i trains runs[i]) */
  runs: string[];
}

/** A word for bash, single-quoted unless it is plainly safe. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface SlurmScriptInput {
  experiment: string;
  runs: string[];
  /** absolute paths: the config, the results folder, the node binary and the metala CLI */
  config: string;
  results: string;
  node: string;
  cli: string;
  cwd: string;
  /** extra `metala train` arguments (--set …, --backend …) */
  trainArgs: string[];
  logDir: string;
  executor: ExecutorConfig;
}

/** The sbatch script of one job array. */
export function slurmScript(i: SlurmScriptInput): string {
  const e = i.executor;
  const sb = [
    `--job-name=${shellQuote(`metala-${i.experiment.replace(/\//g, '-')}`)}`,
    `--array=0-${i.runs.length - 1}${e.array_parallel !== undefined ? `%${e.array_parallel}` : ''}`,
    `--output=${shellQuote(join(i.logDir, '%A_%a.out'))}`,
    '--open-mode=append',
    '--requeue',
    `--signal=B:USR1@${e.signal_seconds}`,
    ...(e.partition !== undefined ? [`--partition=${shellQuote(e.partition)}`] : []),
    ...(e.gres !== undefined ? [`--gres=${shellQuote(e.gres)}`] : []),
    ...(e.time !== undefined ? [`--time=${e.time}`] : []),
    ...e.sbatch,
  ];
  const train = [i.node, i.cli, 'train', i.config, '--only', '"$RUN"', '--results', i.results, ...i.trainArgs].map((w) => (w === '"$RUN"' ? w : shellQuote(w))).join(' ');
  return `#!/bin/bash
# metala: job array for ${i.experiment} (${i.runs.length} run(s)); task i trains RUNS[i].
${sb.map((l) => `#SBATCH ${l}`).join('\n')}
set -u
RUNS=(${i.runs.join(' ')})
RUN=\${RUNS[$SLURM_ARRAY_TASK_ID]}
cd ${shellQuote(i.cwd)}
echo "metala: task $SLURM_ARRAY_TASK_ID (job $SLURM_JOB_ID, restart \${SLURM_RESTART_COUNT:-0}) trains $RUN"
${train} &
child=$!
# Slurm's warning before the time limit or a preemption: metala checkpoints and exits on SIGTERM,
# then this task is requeued; a detached helper clears the ~120 s hold Slurm puts on a requeued job.
requeue() {
  echo "metala: USR1: checkpointing $RUN and requeueing task $SLURM_ARRAY_TASK_ID"
  kill -TERM "$child" 2>/dev/null
  wait "$child"
  ( setsid bash -c "sleep 2; scontrol update JobId=$SLURM_JOB_ID StartTime=now" </dev/null >/dev/null 2>&1 & )
  scontrol requeue "$SLURM_JOB_ID"
  exit 0
}
trap requeue USR1
wait "$child"
exit $?
`;
}

/** Runs that still need training (no finished summary), in config order. */
export async function pendingRuns(results: string, runs: RunSpec[], force: boolean): Promise<RunSpec[]> {
  if (force) return runs;
  const out: RunSpec[] = [];
  for (const r of runs) {
    const f = join(results, r.experiment, r.run_id, SUMMARY_FILE);
    let finished = false;
    if (existsSync(f)) {
      // A corrupt summary counts as not finished: the task's own `metala train` reports it.
      const r = parseRunSummary(await readFile(f, 'utf8').catch(() => ''));
      finished = 'summary' in r && r.summary.status === 'finished';
    }
    if (!finished) out.push(r);
  }
  return out;
}

/** Submits the job array; returns the record written beside the script. */
export async function submitSlurm(
  exp: LoadedExperiment,
  runs: RunSpec[],
  o: { config: string; results: string; trainArgs: string[]; executor: ExecutorConfig },
): Promise<SlurmJobRecord> {
  const dir = resolve(o.results, exp.experiment, 'slurm');
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const script = join(dir, `job-${stamp}.sh`);
  await atomicWriteFile(
    script,
    slurmScript({
      experiment: exp.experiment,
      runs: runs.map((r) => r.run_id),
      config: resolve(o.config),
      results: resolve(o.results),
      node: process.execPath,
      cli: resolve(process.argv[1] ?? 'bin/metala.js'),
      cwd: process.cwd(),
      trainArgs: o.trainArgs,
      logDir: dir,
      executor: o.executor,
    }),
  );
  const r = spawnSync('sbatch', ['--parsable', script], { encoding: 'utf8' });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new MetalaError(code === 'ENOENT' ? 'executor slurm: sbatch not found on PATH. Run on a Slurm login node, or use --executor local' : `executor slurm: cannot run sbatch (${code ?? r.error.message})`, 2);
  }
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').filter((l) => l.trim() !== '')[0] ?? `exit ${r.status}`;
    throw new MetalaError(`executor slurm: sbatch rejected the job (${why.replace(/^sbatch: (error: )?/, '')}). Check --partition, --gres, --time and --sbatch-line (script kept: ${script})`, 2);
  }
  const jobId = r.stdout.trim().split(';')[0]!;
  const record: SlurmJobRecord = { job_id: jobId, script, submitted: new Date().toISOString(), runs: runs.map((x) => x.run_id) };
  await atomicWriteFile(join(dir, `job-${jobId}.json`), `${JSON.stringify(record, null, 1)}\n`);
  return record;
}

/** The job arrays submitted for an experiment (newest last). */
export async function slurmRecords(results: string, experiment: string): Promise<SlurmJobRecord[]> {
  const dir = join(results, experiment, 'slurm');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^job-\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: SlurmJobRecord[] = [];
  for (const n of names) {
    try {
      out.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as SlurmJobRecord);
    } catch {
      // a record cut by a crash: its tasks show as not submitted
    }
  }
  return out.sort((a, b) => a.submitted.localeCompare(b.submitted));
}

/**
 * Slurm's state of each array task still known to the controller ("<job>_<task>" → RUNNING,
 * PENDING, COMPLETED, …), from squeue (finished tasks stay listed for MinJobAge); {} without Slurm.
 */
export function slurmTaskStates(jobIds: string[]): Record<string, string> {
  if (jobIds.length === 0) return {};
  const r = spawnSync('squeue', ['-h', '-r', '-t', 'all', '-j', jobIds.join(','), '-o', '%i %T'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return {};
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const [id, state] = line.trim().split(/\s+/);
    if (id !== undefined && state !== undefined && id !== '') out[id] = state;
  }
  return out;
}
