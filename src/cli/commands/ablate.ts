// `metala ablate [CONFIG]`: train every named variant of an ablation config (its `variants:`,
// crossed with any `sweep:`), e.g. the MetaLA Tab. 8 rows of configs/ablation.yaml.
import { Command, Option } from 'commander';
import { BACKENDS, type BackendName } from '../../backend/types.js';
import { parseJobs, positiveNumber, splitConfigsFromSets } from '../options.js';

export function ablateCommand(): Command {
  return new Command('ablate')
    .description('train the named variants of an ablation config (default configs/ablation.yaml: Tab. 8 rows)')
    .argument('[config]', 'ablation YAML with variants: (default configs/ablation.yaml)')
    .addOption(new Option('--backend <name>', 'tfjs backend (auto: webgpu if a GPU adapter exists, else wasm)').choices(BACKENDS))
    .option('--set <key=value...>', 'override config keys for every variant', [])
    .option('--results <dir>', 'results folder', 'results')
    .option('--only <names>', 'comma-separated variant names or run ids')
    .option('--force', 're-run finished runs from scratch', false)
    .option('--dry-run', 'print the expanded runs and exit', false)
    .option('--max-minutes <m>', 'checkpoint and stop after this many minutes (re-run to resume)', positiveNumber('--max-minutes 30'))
    .option('--jobs <n>', 'train this many runs (or stacks, with train.stack) at once, each in its own process (one core each; on one GPU they time-slice it)', parseJobs, 1)
    .action(async (given: string | undefined, o0: { backend?: BackendName; set: string[]; results: string; only?: string; force: boolean; dryRun: boolean; maxMinutes?: number; jobs: number }) => {
      const { runExperiment } = await import('../run_experiment.js');
      const { loadExperiment } = await import('../../config/load.js');
      const { ConfigError, MetalaError } = await import('../../util/errors.js');
      const split = splitConfigsFromSets(given === undefined ? [] : [given], o0.set);
      if (split.configs.length > 1) throw new MetalaError(`ablate: ${split.configs.length} configs given (${split.configs.join(', ')}). Give one ablation YAML per call`, 2);
      const config = split.configs[0] ?? 'configs/ablation.yaml';
      const o = { ...o0, set: split.sets };
      // Check before anything runs: an ablation without variants is a plain train.
      if (loadExperiment(config, o.set, { variants: true }).runs.every((r) => r.variant === undefined)) {
        throw new ConfigError(config, 'variants', 'none defined. An ablation config lists named rows, e.g. variants: { full: {}, wo_self_aug: { model.mixer.self_aug: false } }');
      }
      await runExperiment(config, { ...o, variants: true });
    });
}
