// metala CLI: builds the commander program, one file per verb in commands/, and the ONE place
// that turns errors into exit codes (style-models.md §8.4): MetalaError → one line + its code;
// anything else is a bug → stack trace.
import { Command, CommanderError } from 'commander';
import { MetalaError } from '../util/errors.js';
import { trainCommand } from './commands/train.js';
import { ablateCommand } from './commands/ablate.js';
import { reportCommand } from './commands/report.js';
import { listCommand } from './commands/list.js';
import { validateCommand } from './commands/validate.js';
import { benchCommand } from './commands/bench.js';
import { goldenCommand } from './commands/golden.js';
import { inspectCommand } from './commands/inspect.js';
import { evalCommand } from './commands/eval.js';
import { dataCommand } from './commands/data.js';
import { statusCommand } from './commands/status.js';

export function buildProgram(): Command {
  const program = new Command('metala')
    .description('Reproduce MetaLA (NeurIPS 2024): train linear-attention models and regenerate the paper tables')
    .version('0.1.0')
    .showHelpAfterError();
  program.addCommand(trainCommand());
  program.addCommand(evalCommand());
  program.addCommand(ablateCommand());
  program.addCommand(statusCommand());
  program.addCommand(reportCommand());
  program.addCommand(listCommand());
  program.addCommand(validateCommand());
  program.addCommand(benchCommand());
  program.addCommand(inspectCommand());
  program.addCommand(goldenCommand());
  program.addCommand(dataCommand());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Usage errors (unknown option, bad choice) must exit 2 like config errors: override on every command.
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv);
    // A command that ran but found a failure (e.g. golden: a fixture outside --tol) sets exitCode 1.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof MetalaError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`${(e as Error).stack ?? String(e)}\nThis is a bug in metala; please report it with the command and config above.\n`);
    return 1;
  }
}

