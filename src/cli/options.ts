// Option parsers shared by several commands.
import { InvalidArgumentError } from 'commander';

/** --jobs: a positive integer (commander prints "error: option '--jobs <n>' argument 'x' is invalid. …" and exits). */
export function parseJobs(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer, e.g. --jobs 4');
  return n;
}
