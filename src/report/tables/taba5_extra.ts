// MetaLA Tab. A5: the 1.3–1.4B models on LAMBADA (perplexity and accuracy) plus the commonsense
// tasks with ARC-e (paper-metala.md §5.2; AVG excludes LAMBADA), beside ours
// (results/eval/<checkpoint>/, written by `metala eval --tasks taba5`).
import { EVAL_GROUPS } from '../../eval/groups.js';
import { oursRow, paperRow, zeroShotTable } from '../eval_fields.js';

const COLS = ['LAMB ppl', 'LAMB acc', 'LOGIQA', 'WSC273', 'BOOLQ', 'PIQA', 'HS', 'WG', 'ARC-e', 'ARC-c', 'OBQA', 'AVG'];
const row = (vals: number[]) => Object.fromEntries(COLS.map((c, i) => [c, vals[i]!]));

const PAPER: Record<string, Record<string, number>> = {
  [paperRow('Pythia‡', '1.4', '300')]: row([10.94, 49.78, 21.35, 72.89, 63.12, 70.89, 51.98, 56.99, 60.56, 28.41, 33.2, 51.04]),
  [paperRow('HGRN‡', '1', '100')]: row([21.81, 36.39, 22.43, 58.97, 58.75, 71.0, 48.05, 51.14, 55.51, 28.07, 31.8, 47.3]),
  [paperRow('Mamba', '1.4', '100')]: row([14.02, 44.44, 22.73, 68.5, 53.27, 71.44, 48.63, 53.59, 58.59, 29.01, 31.8, 48.62]),
  [paperRow('RetNet‡', '1.3', '100')]: row([22.65, 36.79, 22.73, 63.74, 60.21, 69.53, 48.39, 53.28, 54.17, 26.19, 30.8, 47.67]),
  [paperRow('GLA‡', '1.3', '100')]: row([20.05, 39.92, 21.81, 63.0, 61.04, 70.08, 48.0, 51.93, 54.88, 28.33, 31.4, 47.83]),
  [paperRow('MetaLA^a', '1.3', '100')]: row([12.84, 45.99, 21.81, 65.93, 55.5, 70.02, 47.32, 55.01, 56.9, 27.47, 33.0, 48.11]),
  [paperRow('MetaLA^b', '1.4', '300')]: row([10.06, 50.42, 21.35, 73.63, 56.27, 72.25, 53.58, 58.17, 61.49, 30.03, 34.6, 51.26]),
};

export const taba5_extra = zeroShotTable({
  id: 'taba5_extra',
  title: 'LAMBADA and commonsense with ARC-e, 1.3–1.4B models (MetaLA Tab. A5)',
  paperRef: 'MetaLA App. A5, Tab. A5 (paper-metala.md §5.2)',
  files: ['extra_subtasks.csv', 'extra_subtasks.md'],
  columns: EVAL_GROUPS['taba5']!.columns,
  group: 'taba5',
  paper: PAPER,
  row: (r) => oursRow(r, (r.config as { checkpoint?: { source?: string } }).checkpoint?.source === 'official' ? 'metala (released)' : (r.config.model?.mixer?.name ?? '?')),
  notes: [
    'LAMB ppl = exp(−mean log-likelihood of the last word), lower is better (its Δ is ours − paper, so negative is better); LAMB acc = the last word is the greedy continuation. acc_norm for HS, ARC-c and OBQA, acc otherwise. AVG = mean of the nine columns after LAMBADA, as the paper.',
    "The Pythia row of the paper's table is garbled in conversion; its values follow the column order of Tab. 5 (paper-metala.md §5.2).",
  ],
});
