// `--jobs N`: train the runs of one experiment in N child processes at once. Why: a tfjs process
// drives one CPU core (wasm has no threads in Node) and, on webgpu, small models are bound by the
// host side of each kernel launch, so N processes share one GPU (or N cores) almost N times
// faster. Each child is this same CLI with `--only <run ids>`: one run, or the runs of one stack
// (train.stack), which the child stacks again; finished runs are skipped and interrupted ones
// resume exactly as in a single process.
import { spawn } from 'node:child_process';
import { RunError } from '../util/errors.js';

export interface ChildRun {
  /** The run ids the child trains (several: one stack); the first prefixes its output lines. */
  ids: string[];
  label: string;
}

export interface ParallelOpts {
  /** CLI arguments shared by every child (command, config, --set, --results, --backend …). */
  args: string[];
  jobs: number;
  /** Absolute deadline (ms since epoch) each child receives as --max-minutes. */
  deadline?: number;
}

/** Runs one child; its stdout lines (the run's result line) and stderr lines are prefixed with the run id. */
function runChild(run: ChildRun, o: ParallelOpts): Promise<number> {
  const args = [process.argv[1]!, ...o.args, '--only', run.ids.join(',')];
  const tag = run.ids[0]!;
  if (o.deadline !== undefined) args.push('--max-minutes', String(Math.max(0.05, (o.deadline - Date.now()) / 60_000)));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream): void => {
      let buf = '';
      stream.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) if (l.trim() !== '') out.write(`[${tag}] ${l}\n`);
      });
      stream.on('end', () => {
        if (buf.trim() !== '') out.write(`[${tag}] ${buf}\n`);
      });
    };
    relay(child.stdout, process.stdout);
    relay(child.stderr, process.stderr);
    child.on('error', (e) => {
      process.stderr.write(`[${tag}] could not start: ${e.message}\n`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** A work queue over the children; throws a RunError naming the failed ones after all have ended. */
export async function runInParallel(runs: ChildRun[], o: ParallelOpts): Promise<void> {
  const queue = [...runs];
  const failed: string[] = [];
  const total = runs.reduce((n, r) => n + r.ids.length, 0);
  const stacks = runs.filter((r) => r.ids.length > 1).length;
  process.stderr.write(`metala: ${total} run(s)${stacks > 0 ? ` (${stacks} stack(s))` : ''} in ${Math.min(o.jobs, runs.length)} parallel processes\n`);
  const worker = async (): Promise<void> => {
    for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
      if (o.deadline !== undefined && Date.now() >= o.deadline) {
        process.stdout.write(`time budget reached: ${r.label} not started; re-run the same command to continue\n`);
        continue;
      }
      const code = await runChild(r, o);
      if (code !== 0) failed.push(`${r.label} (exit ${code})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, runs.length) }, worker));
  if (failed.length > 0) throw new RunError(`${failed.length} of ${runs.length} process(es) failed: ${failed.join(', ')}; see the messages above`);
}
