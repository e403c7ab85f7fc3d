// The only list of report tables (style-models.md §8.5, §8.7): `metala report` renders each one
// whose runs exist and `metala list tables` prints id, title, paperRef and files from here.
import { lookup } from '../util/registry.js';
import { fig3_mqar } from './tables/fig3_mqar.js';
import { taba7_mqar_hard } from './tables/taba7_mqar_hard.js';
import { tab8_ablation } from './tables/tab8_ablation.js';
import type { TableSpec } from './types.js';

export const TABLES = {
  fig3_mqar,
  taba7_mqar_hard,
  tab8_ablation,
} as const satisfies Record<string, TableSpec>;

export type TableId = keyof typeof TABLES;

export function getTable(id: string): TableSpec {
  return lookup<TableSpec>(TABLES, 'table', id);
}
