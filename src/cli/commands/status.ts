// `metala status CONFIG`: every run of an experiment as finished / running / interrupted / failed /
// pending, from its folder (summary.json, run.lock) and, for runs submitted with --executor slurm,
// the Slurm array task that trains it (squeue).
import { Command } from 'commander';
import { splitConfigsFromSets } from '../options.js';

export function statusCommand(): Command {
  return new Command('status')
    .description('show each run of an experiment: finished, running (and its Slurm job), interrupted, failed or pending')
    .argument('[config]', 'experiment YAML, e.g. configs/mqar.yaml')
    .option('--set <key=value...>', 'the overrides the runs were trained with', [])
    .option('--results <dir>', 'results folder', 'results')
    .action(async (given: string | undefined, o: { set: string[]; results: string }) => {
      const { configs, sets } = splitConfigsFromSets(given === undefined ? [] : [given], o.set);
      const { MetalaError } = await import('../../util/errors.js');
      if (configs.length !== 1) throw new MetalaError('status: give one experiment YAML, e.g. metala status configs/smoke/mqar.yaml', 2);
      const { loadExperiment } = await import('../../config/load.js');
      const { runStatuses } = await import('../status.js');
      const exp = loadExperiment(configs[0]!, sets, { variants: true });
      const rows = await runStatuses(o.results, exp.runs);
      const counts = new Map<string, number>();
      for (const r of rows) {
        counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        process.stdout.write(`${r.run_id} ${r.status.padEnd(11)} ${r.detail}\n`);
      }
      process.stdout.write(`${exp.experiment}: ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}\n`);
    });
}
