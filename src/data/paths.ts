// Where data sets live and how a loader says one is missing. Data of a set goes to
// datasets/<folder>/cache/ (git-ignored; the folder's README.md is committed); $METALA_DATASETS
// moves the whole tree (e.g. to a larger disk on a GPU host).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../util/errors.js';

/** Root of all data sets: $METALA_DATASETS or ./datasets. */
export function datasetsRoot(): string {
  return resolve(process.env['METALA_DATASETS'] ?? 'datasets');
}

/** The cache folder of a data set, e.g. datasets/lra_listops/cache. */
export function datasetCache(folder: string): string {
  return join(datasetsRoot(), folder, 'cache');
}

/** The command that makes a data set: `metala data <name>` (generated) or `metala data fetch <name>`. */
export function makeCommand(name: string, kind: 'generated' | 'fetched'): string {
  return kind === 'generated' ? `metala data ${name}` : `metala data fetch ${name}`;
}

/**
 * The one "missing data" error: `PATH: missing (what). Run \`metala data …\``. `key` names the task
 * option that points elsewhere (e.g. task.data_dir) so the user knows both ways out.
 */
export function missingData(path: string, what: string, name: string, kind: 'generated' | 'fetched', key = 'task.data_dir'): InputError {
  return new InputError(`${path}: missing (${what}). Run \`${makeCommand(name, kind)}\`, or point ${key} at a folder that has it`);
}

/** Throws missingData unless every path exists. */
export function requireFiles(paths: readonly string[], what: string, name: string, kind: 'generated' | 'fetched'): void {
  for (const p of paths) if (!existsSync(p)) throw missingData(p, what, name, kind);
}
