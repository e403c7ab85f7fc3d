// The only list of data sets (DESIGN.md §4): `metala data <name>` generates or verifies one,
// `metala data fetch <name>` downloads and unpacks one; loaders name these entries in their
// "missing data" errors. Adding a data set = an entry here (or in a task family's list).
import { LRA_DATASETS } from '../tasks/lra/datasets.js';
import { EVAL_DATASETS } from '../eval/datasets.js';
import { lookup } from '../util/registry.js';
import type { DatasetDef } from '../data/types.js';

export const DATASETS: Readonly<Record<string, DatasetDef>> = Object.fromEntries([...LRA_DATASETS, ...EVAL_DATASETS].map((d) => [d.name, d]));

/** The data set by name, or a MetalaError with "did you mean" and the list. */
export function getDataset(name: string): DatasetDef {
  return lookup<DatasetDef>(DATASETS, 'data set', name);
}
