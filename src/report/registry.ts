// The only list of report tables (style-models.md §8.5, §8.7): `metala report` renders each one
// whose runs exist and `metala list tables` prints id, title, paperRef and files from here.
import { lookup } from '../util/registry.js';
import { fig3_mqar } from './tables/fig3_mqar.js';
import { taba7_mqar_hard } from './tables/taba7_mqar_hard.js';
import { tab8_ablation } from './tables/tab8_ablation.js';
import { tab4_superglue } from './tables/tab4_superglue.js';
import { tab5_commonsense } from './tables/tab5_commonsense.js';
import { taba5_extra } from './tables/taba5_extra.js';
import { taba9_scaling } from './tables/taba9_scaling.js';
import { tab8_ablation_lm } from './tables/tab8_ablation_lm.js';
import { tab7_lra } from './tables/tab7_lra.js';
import { tab6_imagenet, tab6_imagenet_params } from './tables/tab6_imagenet.js';
import { icl_linreg } from './tables/icl_linreg.js';
import type { TableSpec } from './types.js';

export const TABLES = {
  fig3_mqar,
  taba7_mqar_hard,
  tab8_ablation,
  tab4_superglue,
  tab5_commonsense,
  taba5_extra,
  taba9_scaling,
  tab8_ablation_lm,
  tab7_lra,
  tab6_imagenet,
  tab6_imagenet_params,
  icl_linreg,
} as const satisfies Record<string, TableSpec>;

export type TableId = keyof typeof TABLES;

export function getTable(id: string): TableSpec {
  return lookup<TableSpec>(TABLES, 'table', id);
}
