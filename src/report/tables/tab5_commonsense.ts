// MetaLA Tab. 5: zero-shot commonsense reasoning (LogiQA, WSC273, BoolQ, PIQA, HellaSwag acc_norm,
// WinoGrande, ARC-c acc_norm, OBQA acc_norm, AVG), the paper's rows (paper-metala.md §5.2) beside
// ours (results/eval/<checkpoint>/, written by `metala eval --tasks tab5`).
import { EVAL_GROUPS } from '../../eval/groups.js';
import { oursRow, paperRow, zeroShotTable } from '../eval_fields.js';

const COLS = ['LOGIQA', 'WSC273', 'BOOLQ', 'PIQA', 'HS', 'WG', 'ARC-c', 'OBQA', 'AVG'];
const row = (vals: number[]) => Object.fromEntries(COLS.map((c, i) => [c, vals[i]!]));

const PAPER: Record<string, Record<string, number>> = {
  [paperRow('Pythia', '0.41', '15')]: row([21.81, 57.51, 61.99, 63.66, 33.15, 51.78, 22.78, 28.6, 42.66]),
  [paperRow('Mamba', '0.37', '15')]: row([20.43, 56.78, 58.78, 64.8, 33.98, 49.8, 22.87, 29.2, 42.08]),
  [paperRow('GLA', '0.36', '15')]: row([23.04, 56.78, 53.49, 63.55, 32.0, 52.1, 22.78, 27.4, 41.39]),
  [paperRow('MetaLA', '0.36', '15')]: row([22.43, 58.24, 58.96, 63.82, 32.18, 53.12, 23.38, 28.0, 42.52]),
  [paperRow('Pythia‡', '1.4', '300')]: row([21.35, 72.89, 63.12, 70.89, 51.98, 56.99, 28.41, 33.2, 49.85]),
  [paperRow('HGRN‡', '1', '100')]: row([22.43, 58.97, 58.75, 71.0, 48.05, 51.14, 28.07, 31.8, 46.28]),
  [paperRow('Mamba', '1.4', '100')]: row([22.73, 68.5, 53.27, 71.44, 48.63, 53.59, 29.01, 31.8, 47.37]),
  [paperRow('RetNet‡', '1.3', '100')]: row([22.73, 63.74, 60.21, 69.53, 48.39, 53.28, 26.19, 30.8, 46.86]),
  [paperRow('GLA‡', '1.3', '100')]: row([21.81, 63.0, 61.04, 70.08, 48.0, 51.93, 28.33, 31.4, 46.95]),
  [paperRow('MetaLA^a', '1.3', '100')]: row([21.81, 65.93, 55.5, 70.02, 47.32, 55.01, 27.47, 33.0, 47.01]),
  [paperRow('MetaLA^b', '1.4', '300')]: row([21.35, 73.63, 56.27, 72.25, 53.58, 58.17, 30.03, 34.6, 49.99]),
};

export const tab5_commonsense = zeroShotTable({
  id: 'tab5_commonsense',
  title: 'Zero-shot commonsense reasoning (MetaLA Tab. 5)',
  paperRef: 'MetaLA §6, Tab. 5 (paper-metala.md §5.2)',
  files: ['commonsense.csv', 'commonsense.md'],
  columns: EVAL_GROUPS['tab5']!.columns,
  group: 'tab5',
  paper: PAPER,
  row: (r) => oursRow(r, (r.config as { checkpoint?: { source?: string } }).checkpoint?.source === 'official' ? 'metala (released)' : (r.config.model?.mixer?.name ?? '?')),
  notes: [
    'Metrics as the paper: acc_norm for HS, ARC-c and OBQA, acc otherwise. AVG = mean of the eight columns.',
    'Paper rows: 0.36–0.41B models trained on 15B Pile tokens by the authors; ‡ public checkpoints; MetaLA^a = 1.3B tied embeddings, MetaLA^b = 1.4B, 300B tokens.',
  ],
});
