// `metala list mixers|tasks|tables`: print a registry (generated from the registries themselves).
import { Command, Argument } from 'commander';

export function listCommand(): Command {
  return new Command('list')
    .description('list the registered mixers, tasks or tables')
    .addArgument(new Argument('<what>', 'registry to print').choices(['mixers', 'tasks', 'eval-tasks', 'tables']))
    .option('--d-model <n>', 'model width for the state-size and parameter columns', (v) => Number.parseInt(v, 10), 512)
    .action(async (what: string, o: { dModel: number }) => {
      const { renderList } = await import('../list.js');
      process.stdout.write(await renderList(what as 'mixers' | 'tasks' | 'eval-tasks' | 'tables', o.dModel));
    });
}
