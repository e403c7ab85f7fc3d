// `metala validate CONFIG...`: parse, merge and expand configs without training (no TF.js work).
import { Command } from 'commander';

export function validateCommand(): Command {
  return new Command('validate')
    .description('check experiment configs (includes, overrides, sweeps) without running them')
    .argument('<configs...>', 'experiment YAML files')
    .option('--set <key=value...>', 'override config keys', [])
    .action(async (configs: string[], o: { set: string[] }) => {
      const { loadExperiment } = await import('../../config/load.js');
      for (const c of configs) {
        const exp = loadExperiment(c, o.set, { variants: true });
        process.stdout.write(`ok ${c}: ${exp.runs.length} run(s) of ${exp.experiment}\n`);
      }
    });
}
