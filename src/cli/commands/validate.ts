// `metala validate CONFIG...`: parse, merge and expand configs without training (no TF.js work).
import { Command } from 'commander';
import { splitConfigsFromSets } from '../options.js';

export function validateCommand(): Command {
  return new Command('validate')
    .description('check experiment configs (includes, overrides, sweeps) without running them')
    .argument('[configs...]', 'experiment YAML files (eval task configs under configs/tasks/ are checked as such)')
    .option('--set <key=value...>', 'override config keys', [])
    .action(async (given: string[], o: { set: string[] }) => {
      const { configs, sets } = splitConfigsFromSets(given, o.set);
      const { MetalaError } = await import('../../util/errors.js');
      if (configs.length === 0) throw new MetalaError('validate: no config given. Give experiment YAML files, e.g. metala validate configs/*.yaml', 2);
      const { loadExperiment, isEvalTaskConfig } = await import('../../config/load.js');
      for (const c of configs) {
        // lm-eval-style task files (configs/tasks/*.yaml) are not experiments: check them as tasks.
        if (isEvalTaskConfig(c)) {
          const { loadTaskConfig } = await import('../../eval/task_config.js');
          const { basename, dirname } = await import('node:path');
          const name = basename(c).replace(/\.ya?ml$/, '');
          loadTaskConfig(name, dirname(c));
          process.stdout.write(`ok ${c}: eval task ${name} (metala eval --tasks ${name}), not an experiment\n`);
          continue;
        }
        const exp = loadExperiment(c, sets, { variants: true });
        process.stdout.write(`ok ${c}: ${exp.runs.length} run(s) of ${exp.experiment}\n`);
      }
    });
}
