// Option parsers shared by several commands. Each throws commander's InvalidArgumentError, which
// commander prints as one line ("error: option '--batch <n>' argument 'abc' is invalid. …") before
// exiting with code 2: a bad flag never reaches the code that would run with it.
import { InvalidArgumentError } from 'commander';

/** An integer ≥ 1, e.g. --batch, --steps, --jobs. */
export function positiveInt(example: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, e.g. ${example}`);
    return n;
  };
}

/** An integer ≥ 0, e.g. --warmup, --decode. */
export function nonNegativeInt(example: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer ≥ 0, e.g. ${example}`);
    return n;
  };
}

/** A finite number > 0, e.g. --max-minutes. */
export function positiveNumber(example: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, e.g. ${example}`);
    return n;
  };
}

/** A comma-separated list of positive integers, e.g. --seq-lens 128,512. */
export function positiveInts(example: string): (v: string) => number[] {
  const one = positiveInt(example);
  return (v) => {
    const parts = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (parts.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of positive integers, e.g. ${example}`);
    return parts.map(one);
  };
}

/** A results sub-folder name: relative, no '.' or '..' segments (nothing is written outside --results). */
export function folderName(example: string): (v: string) => string {
  return (v) => {
    const ok = /^[A-Za-z0-9_.\-/]+$/.test(v) && !v.startsWith('/') && v.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
    if (!ok) throw new InvalidArgumentError(`expected a relative name of letters, digits, _ . - / without . or .. segments, e.g. ${example}`);
    return v;
  };
}

/** --jobs: a positive integer. */
export const parseJobs = positiveInt('--jobs 4');

/**
 * `--set a=b CONFIG`: commander's variadic --set also takes the config path that follows it. The
 * values without '=' are config paths, not overrides: give them back. Returns the paths found
 * (given ones first) and the real overrides.
 */
export function splitConfigsFromSets(given: string[], sets: string[]): { configs: string[]; sets: string[] } {
  const paths = sets.filter((s) => !s.includes('='));
  return { configs: [...given, ...paths], sets: sets.filter((s) => s.includes('=')) };
}
