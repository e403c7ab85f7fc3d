// `metala train CONFIG`: expand the experiment (sweep) into runs and train each; finished runs
// are skipped, interrupted ones resume from their checkpoint.
import { Command, Option } from 'commander';
import { BACKENDS, type BackendName } from '../../backend/types.js';
import { parseJobs, positiveNumber, splitConfigsFromSets } from '../options.js';

export function trainCommand(): Command {
  return new Command('train')
    .description('train every run of an experiment config (sweeps expand to several runs)')
    .argument('[config]', 'experiment YAML, e.g. configs/mqar.yaml')
    .addOption(new Option('--backend <name>', 'tfjs backend (auto: webgpu if a GPU adapter exists, else wasm)').choices(BACKENDS))
    .option('--set <key=value...>', 'override config keys, e.g. --set train.lr=1e-3 model.d_model=128', [])
    .option('--results <dir>', 'results folder', 'results')
    .option('--only <ids>', 'comma-separated run ids (or prefixes) to run')
    .option('--force', 're-run finished runs from scratch', false)
    .option('--dry-run', 'print the expanded runs and exit', false)
    .option('--max-minutes <m>', 'checkpoint and stop after this many minutes (re-run to resume)', positiveNumber('--max-minutes 30'))
    .option('--jobs <n>', 'train this many runs (or stacks, with train.stack) at once, each in its own process (one core each; on one GPU they time-slice it)', parseJobs, 1)
    .addOption(new Option('--executor <name>', 'local: train here (default); slurm: submit one job array, a task per pending run').choices(['local', 'slurm']))
    .option('--partition <name>', 'slurm: partition')
    .option('--gres <spec>', 'slurm: generic resources per task, e.g. gpu:1')
    .option('--time <limit>', 'slurm: time limit per task (minutes, HH:MM:SS, D-HH:MM:SS); tasks checkpoint and requeue before it')
    .option('--array-parallel <n>', 'slurm: at most n tasks at once', parseJobs)
    .option('--sbatch-line <option>', 'slurm: an extra #SBATCH line, e.g. --sbatch-line=--account=lab (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action(async (config: string | undefined, o: { backend?: BackendName; set: string[]; results: string; only?: string; force: boolean; dryRun: boolean; maxMinutes?: number; jobs: number; executor?: 'local' | 'slurm'; partition?: string; gres?: string; time?: string; arrayParallel?: number; sbatchLine: string[] }) => {
      const { configs, sets } = splitConfigsFromSets(config === undefined ? [] : [config], o.set);
      if (configs.length !== 1) {
        const { MetalaError } = await import('../../util/errors.js');
        throw new MetalaError(configs.length === 0 ? 'train: no config given. Give one experiment YAML, e.g. metala train configs/smoke/mqar.yaml' : `train: ${configs.length} configs given (${configs.join(', ')}). Give one experiment YAML per call`, 2);
      }
      const { runExperiment } = await import('../run_experiment.js');
      const executor = {
        name: o.executor,
        partition: o.partition,
        gres: o.gres,
        time: o.time,
        array_parallel: o.arrayParallel,
        ...(o.sbatchLine.length > 0 ? { sbatch: o.sbatchLine } : {}),
      };
      try {
        await runExperiment(configs[0]!, { ...o, set: sets, executor });
      } catch (e) {
        // A bad --time or other executor flag: the same one line as a bad config key.
        const { ZodError } = await import('zod');
        if (!(e instanceof ZodError)) throw e;
        const { MetalaError } = await import('../../util/errors.js');
        const issue = e.issues[0]!;
        throw new MetalaError(`train: executor ${issue.path.join('.')}: ${issue.message}`, 2);
      }
    });
}
