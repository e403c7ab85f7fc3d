// Shared by `metala train` and `metala ablate`: validate everything first, then train the runs.
import { loadExperiment, type LoadedExperiment } from '../config/load.js';
import type { BackendName } from '../backend/index.js';
import { MetalaError, RunError } from '../util/errors.js';
import { isInteractive } from '../train/progress.js';
import { executorSchema, type ExecutorConfig, type RunSpec } from '../config/schema.js';
import type { RunOutcome, TrainOptions } from '../train/loop.js';

export interface RunOpts {
  backend?: BackendName;
  set: string[];
  results: string;
  only?: string;
  force: boolean;
  dryRun: boolean;
  variants?: boolean;
  maxMinutes?: number;
  /** Child processes training runs at once (default 1: this process trains them in turn). */
  jobs?: number;
  /** Executor settings from the command line; they override the config's `executor:` block. */
  executor?: Partial<ExecutorConfig>;
}

export async function runExperiment(config: string, o: RunOpts): Promise<LoadedExperiment> {
  const exp = loadExperiment(config, o.set, { variants: o.variants });
  let runs = exp.runs;
  if (o.only !== undefined) {
    const ids = o.only.split(',').map((s) => s.trim());
    // In the order given, so a user can put the quick runs first.
    runs = ids.flatMap((id) => runs.filter((r) => r.run_id.startsWith(id) || r.variant === id)).filter((r, i, all) => all.indexOf(r) === i);
    if (runs.length === 0) throw new MetalaError(`--only ${o.only}: no run of ${config} matches. Use --dry-run to list run ids`);
  }
  const executor = executorSchema.parse({ ...(exp.executor ?? {}), ...Object.fromEntries(Object.entries(o.executor ?? {}).filter(([, v]) => v !== undefined)) });
  if (executor.name === 'slurm' && !o.dryRun) {
    if (o.force) throw new MetalaError('--force with --executor slurm: a requeued task would retrain from scratch. Delete the run folders to retrain them, then submit', 2);
    const { pendingRuns, submitSlurm } = await import('./slurm.js');
    const todo = await pendingRuns(o.results, runs, false);
    if (todo.length === 0) {
      process.stdout.write(`nothing to submit: all ${runs.length} run(s) of ${exp.experiment} are finished\n`);
      return exp;
    }
    const trainArgs = [...o.set.flatMap((kv) => ['--set', kv]), ...(o.backend !== undefined ? ['--backend', o.backend] : [])];
    const job = await submitSlurm(exp, todo, { config, results: o.results, trainArgs, executor });
    process.stdout.write(`submitted Slurm job array ${job.job_id}: ${todo.length} run(s) of ${exp.experiment} (${runs.length - todo.length} finished) → ${job.script}\nfollow it with: metala status ${config}\n`);
    return exp;
  }
  // Stacks as a training process will plan them before it knows its backend (auto: as on webgpu;
  // a process that comes up on a CPU backend trains the runs of a stack one after another).
  const plannedStacks = async (): Promise<RunSpec[][]> => {
    const { planStacks, runProgress } = await import('../train/stack_plan.js');
    const on = o.backend ?? (exp.backend as BackendName | undefined) ?? 'auto';
    return planStacks(exp.file, runs, on === 'auto' ? 'webgpu' : on, (r) => runProgress(o.results, r, o.force));
  };
  if (o.dryRun) {
    // With train.stack, which runs would train together (resume state read from --results).
    const stackOf = new Map<RunSpec, string>();
    if (runs.some((r) => r.train.stack !== undefined && r.train.stack !== 'off')) {
      const on = o.backend ?? (exp.backend as BackendName | undefined) ?? 'auto';
      (await plannedStacks()).forEach((g, i) => {
        if (g.length > 1) for (const r of g) stackOf.set(r, ` (stack ${i + 1}: ${g.length} runs${on === 'auto' && r.train.stack === 'auto' ? ', if on webgpu' : ''})`);
      });
    }
    for (const r of runs) process.stdout.write(`${r.experiment}/${r.run_id}${r.variant !== undefined ? ` [${r.variant}]` : ''} ${JSON.stringify(r.point)}${stackOf.get(r) ?? ''}\n`);
    return exp;
  }
  if ((o.jobs ?? 1) > 1 && runs.length > 1) {
    const { runInParallel } = await import('./parallel_runs.js');
    // Measured on an H100 (MQAR T=256): one run alone 600K-890K tokens/s, eight at once 659K together.
    if (o.backend === 'webgpu') process.stderr.write(`metala: note: --jobs ${o.jobs} on one GPU time-slices it (runs do not get faster together); --jobs 1 finishes each run sooner\n`);
    const args = [o.variants === true ? 'ablate' : 'train', config, '--results', o.results, ...o.set.flatMap((kv) => ['--set', kv])];
    if (o.backend !== undefined) args.push('--backend', o.backend);
    if (o.force) args.push('--force');
    const label = (r: (typeof runs)[number]): string => `${r.experiment}/${r.run_id}${r.variant !== undefined ? ` [${r.variant}]` : ''}`;
    // One child per stack (train.stack), planned as the children will plan them.
    await runInParallel(
      (await plannedStacks()).map((g) => ({ ids: g.map((r) => r.run_id), label: g.length === 1 ? label(g[0]!) : `stack of ${g.map(label).join(', ')}` })),
      { args, jobs: o.jobs!, deadline: o.maxMinutes !== undefined ? Date.now() + o.maxMinutes * 60_000 : undefined },
    );
    return exp;
  }
  const { initBackend } = await import('../backend/index.js');
  const backend = await initBackend(o.backend ?? (exp.backend as BackendName | undefined) ?? 'auto');
  const { trainRun } = await import('../train/loop.js');
  const { trainStack } = await import('../train/stack_loop.js');
  const { planStacks, runProgress } = await import('../train/stack_plan.js');
  const { installStopSignals, stopRequested } = await import('../train/stop_signal.js');
  const say = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  installStopSignals(say);
  const interactive = isInteractive();
  process.stderr.write(`metala: ${runs.length} run(s) of ${exp.experiment} on ${backend.backend} (${backend.device})\n`);
  let failed = 0;
  const deadline = o.maxMinutes !== undefined ? Date.now() + o.maxMinutes * 60_000 : undefined;
  const trainOpts: TrainOptions = {
    resultsDir: o.results,
    backend,
    progress: interactive,
    force: o.force,
    log: interactive ? undefined : say,
    notice: say,
    deadline,
    shouldStop: stopRequested,
  };
  const report = (r: RunSpec, out: RunOutcome): void => {
    const i = runs.indexOf(r);
    if (out.status === 'locked') {
      say(`skipped ${r.experiment}/${r.run_id}: another process is training it (${String(out.summary['locked_by'])}); if that process is gone, delete ${out.dir}/run.lock`);
      return;
    }
    if (out.status === 'failed') {
      // A replica of a stack that failed while the others went on (alone, a failure is thrown).
      failed++;
      process.stderr.write(`error: ${String(out.summary['error'])}\n`);
      return;
    }
    // The task's own metric: accuracy (MQAR, LRA, images), perplexity (language modelling) or excess_risk (regression).
    const metric = out.summary['metric'] === 'perplexity' || out.summary['metric'] === 'excess_risk' ? out.summary['metric'] : 'accuracy';
    const best = (out.summary['best'] as Record<string, number> | null)?.[metric];
    const stacked = out.summary['stack'] as { replicas: number } | undefined;
    process.stdout.write(
      `[${i + 1}/${runs.length}] ${r.experiment}/${r.run_id}${r.variant !== undefined ? ` [${r.variant}]` : ''} ${out.status}` +
        `${best !== undefined ? ` best ${metric} ${best.toFixed(4)}` : ''} ${JSON.stringify(r.point)}${stacked !== undefined && out.status !== 'skipped' ? ` (stack of ${stacked.replicas})` : ''} → ${out.dir}\n`,
    );
  };
  // train.stack: runs that differ only in per-run settings train together (src/train/stack_plan.ts).
  const groups = planStacks(exp.file, runs, backend.backend, (r) => runProgress(o.results, r, o.force));
  for (const [gi, group] of groups.entries()) {
    const left = groups.slice(gi).reduce((n, g) => n + g.length, 0);
    if (deadline !== undefined && Date.now() >= deadline) {
      process.stdout.write(`time budget reached: ${left} run(s) not started; re-run the same command to continue\n`);
      break;
    }
    if (stopRequested()) {
      process.stdout.write(`stopped: ${left} run(s) not started; re-run the same command to continue\n`);
      break;
    }
    try {
      if (group.length === 1) {
        report(group[0]!, await trainRun(group[0]!, trainOpts));
      } else {
        const outs = await trainStack(group, trainOpts);
        group.forEach((r, k) => report(r, outs[k]!));
      }
    } catch (e) {
      if (!(e instanceof RunError)) throw e;
      failed++;
      process.stderr.write(`error: ${e.message}\n`);
    }
  }
  if (failed > 0) throw new RunError(`${failed} of ${runs.length} run(s) failed; see the messages above`);
  // 130 = terminated by Ctrl-C, as shells report it; the runs are checkpointed and resume.
  if (stopRequested()) throw new MetalaError('stopped by a signal; the same command resumes the interrupted run', 130);
  return exp;
}
