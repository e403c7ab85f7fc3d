// MetaLA Tab. 4: zero-shot SuperGLUE (WSC, WIC, RTE, CB F1, MultiRC EM, BoolQ, COPA, AVG), the
// paper's rows (paper-metala.md §5.2; † from the HGRN paper, ‡ public checkpoints) beside ours
// (results/eval/<checkpoint>/, written by `metala eval --tasks tab4`).
import { EVAL_GROUPS } from '../../eval/groups.js';
import { oursRow, paperRow, zeroShotTable } from '../eval_fields.js';

const COLS = ['WSC', 'WIC', 'RTE', 'CB', 'MULTIRC', 'BOOLQ', 'COPA', 'AVG'];
const row = (vals: number[]) => Object.fromEntries(COLS.map((c, i) => [c, vals[i]!]));

// Tab. 4 as printed: model, PS (B params), T (B tokens), then the columns above.
const PAPER: Record<string, Record<string, number>> = {
  [paperRow('Pythia', '0.41', '15')]: row([36.54, 50.0, 52.35, 39.29, 0.31, 61.99, 62.0, 43.21]),
  [paperRow('Mamba', '0.37', '15')]: row([36.54, 50.31, 52.71, 42.86, 2.52, 58.78, 64.0, 43.96]),
  [paperRow('GLA', '0.36', '15')]: row([36.54, 49.84, 53.07, 41.07, 0.42, 53.49, 66.0, 42.92]),
  [paperRow('MetaLA', '0.36', '15')]: row([36.54, 50.0, 52.71, 42.86, 0.31, 58.96, 67.0, 44.05]),
  [paperRow('Pythia†', '1.4', '300')]: row([36.54, 50.0, 53.07, 35.71, 0.94, 60.73, 72.0, 44.14]),
  [paperRow('HGRN†', '1', '100')]: row([40.38, 50.78, 53.43, 42.86, 3.04, 58.69, 70.0, 45.6]),
  [paperRow('Mamba', '1.4', '100')]: row([39.42, 50.94, 55.23, 26.79, 1.15, 53.27, 73.0, 42.83]),
  [paperRow('RetNet‡', '1.3', '100')]: row([36.54, 50.0, 52.71, 46.43, 2.52, 60.21, 68.0, 45.2]),
  [paperRow('GLA‡', '1.3', '100')]: row([36.54, 50.16, 53.07, 37.5, 0.31, 61.04, 69.0, 43.95]),
  [paperRow('MetaLA^a', '1.3', '100')]: row([49.04, 51.25, 55.6, 37.5, 1.78, 55.5, 70.0, 45.81]),
  [paperRow('MetaLA^b', '1.4', '300')]: row([62.5, 51.88, 49.1, 48.21, 1.57, 56.27, 75.0, 49.22]),
};

export const tab4_superglue = zeroShotTable({
  id: 'tab4_superglue',
  title: 'Zero-shot SuperGLUE (MetaLA Tab. 4)',
  paperRef: 'MetaLA §6, Tab. 4 (paper-metala.md §5.2)',
  files: ['superglue.csv', 'superglue.md'],
  columns: EVAL_GROUPS['tab4']!.columns,
  group: 'tab4',
  paper: PAPER,
  row: (r) => oursRow(r, (r.config as { checkpoint?: { source?: string } }).checkpoint?.source === 'official' ? 'metala (released)' : (r.config.model?.mixer?.name ?? '?')),
  notes: [
    'Metrics as the paper: acc, except CB = macro F1 over True/False/Neither and MultiRC = EM (a question counts only if all its answers are classified right; lm-eval v0.3 acc_all). AVG = mean of the seven columns.',
    'Paper rows: 0.36–0.41B models trained on 15B Pile tokens by the authors; † numbers from the HGRN paper; ‡ public checkpoints; MetaLA^a = 1.3B tied embeddings, MetaLA^b = 1.4B, 300B tokens.',
  ],
});
