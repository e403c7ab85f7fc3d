// `metala eval --checkpoint DIR --tasks piqa,hellaswag`: zero-shot scoring of a checkpoint (released
// MetaLA HF folder or ours) on lm-eval-style tasks (configs/tasks/*.yaml); results go to
// results/eval/<checkpoint>/<task>/ for `metala report` (Tab. 4, 5, A5, A9, 8).
import { Command, Option } from 'commander';
import { BACKENDS, type BackendName } from '../../backend/types.js';
import { folderName, positiveInt } from '../options.js';

export function evalCommand(): Command {
  return new Command('eval')
    .description('zero-shot evaluation of a checkpoint on lm-eval-style tasks (log-likelihood scoring)')
    .option('--checkpoint <dir>', 'checkpoint folder: config.json + model.safetensors (+ tokenizer); required unless --tasks list')
    .option('--tasks <list>', 'comma-separated tasks or groups: tab4, tab5, taba5, taba9, all (see configs/tasks/); list prints them', 'tab5')
    .option('--limit <n>', 'score only the first N documents of each task (rows are marked in the tables)', positiveInt('--limit 100'))
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(BACKENDS).default('auto'))
    .option('--tokenizer <spec>', "override the checkpoint's tokenizer: byte, gpt2, cl100k_base, or a tokenizer.json / *.tiktoken path")
    .option('--data-dir <dir>', 'read <dir>/<task>/<split>.jsonl|parquet instead of datasets/<task>/cache/ (e.g. test/fixtures/eval)')
    .option('--results <dir>', 'results folder', 'results')
    .option('--name <name>', 'results/eval/<name>/ (default: from the checkpoint folder)', folderName('--name metala-380M'))
    .option('--batch-tokens <n>', 'max tokens per forward pass (default: min(4096, 2^25 / vocab))', positiveInt('--batch-tokens 4096'))
    .option('--max-length <n>', 'left-truncate inputs to this many tokens (default: the model max_seq_len)', positiveInt('--max-length 2048'))
    .addHelpText('after', '\nExamples:\n  metala eval --checkpoint path/to/metala_380M --tasks taba9\n  metala eval --checkpoint results/lm/metala/<run>/checkpoint --tasks tab5 --data-dir test/fixtures/eval')
    .action(
      async (o: {
        checkpoint?: string;
        tasks: string;
        limit?: number;
        backend: BackendName;
        tokenizer?: string;
        dataDir?: string;
        results: string;
        name?: string;
        batchTokens?: number;
        maxLength?: number;
      }) => {
        if (o.tasks.trim() === 'list') {
          const { renderList } = await import('../list.js');
          process.stdout.write(await renderList('eval-tasks', 0));
          return;
        }
        if (o.checkpoint === undefined) {
          const { MetalaError } = await import('../../util/errors.js');
          throw new MetalaError("eval: --checkpoint is required. Give a checkpoint folder, e.g. --checkpoint path/to/metala_380M (or --tasks list to see the tasks)", 2);
        }
        const { runEval } = await import('../../eval/run.js');
        const out = await runEval({ ...o, checkpoint: o.checkpoint, tasks: o.tasks.split(',').map((s) => s.trim()).filter((s) => s !== '') });
        process.stdout.write(`${out.results.length} task(s) scored; ${out.written.length} result folder(s) under ${o.results}/eval/${out.name}/ (render with: metala report)\n`);
      },
    );
}
