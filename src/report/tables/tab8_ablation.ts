// MetaLA Tab. 8 (paper §6; paper-metala.md §5.3): ablation rows — full MetaLA, w/o self-augmentation,
// w/o short conv, w/ key — plus our fixed-decay row. The paper's columns are zero-shot commonsense
// scores of 360M LMs; ours so far are MQAR accuracies of the same variants (configs/ablation.yaml),
// shown side by side: the paper's numbers are context, not a like-for-like Δ (different task).
import type { RunRecord } from '../../results/store.js';
import { BEST_RUN_DETAILS, bestAccuracyPct, pct1, taskName, taskNumber } from '../fields.js';
import { defineTable } from '../types.js';
import type { Dim, Key, PaperValue } from '../types.js';

/** Variant names of configs/ablation.yaml, in the paper's row order, with the paper's labels. */
export const ABLATION_ROWS: Readonly<Record<string, string>> = {
  full: 'MetaLA (full)',
  wo_self_aug: 'w/o self-aug',
  wo_short_conv: 'w/o short conv',
  w_key: 'w/ key',
  fixed_decay: 'fixed decay (ours)',
};
const ORDER = Object.keys(ABLATION_ROWS);

const p = (x: number): PaperValue => ({ text: x.toFixed(2), value: x });
const COLS = ['LOGIQA', 'WSC273', 'BOOLQ', 'PIQA', 'HS', 'WG', 'ARC-c', 'OBQA', 'AVG'] as const;
function paperRow(xs: number[]): Record<string, PaperValue> {
  return Object.fromEntries(COLS.map((c, i) => [`paper LM: ${c}`, p(xs[i]!)]));
}
// Tab. 8 (360M, 15B tokens, zero-shot).
const PAPER_TAB8 = {
  'MetaLA (full)': paperRow([22.43, 58.24, 58.96, 63.82, 32.18, 53.12, 23.38, 28.0, 42.52]),
  'w/o self-aug': paperRow([21.81, 58.61, 57.52, 64.47, 32.56, 49.41, 23.89, 29.0, 42.16]),
  'w/o short conv': paperRow([22.58, 51.65, 49.36, 52.07, 25.82, 51.22, 26.54, 28.8, 38.51]),
  'w/ key': paperRow([21.2, 57.88, 49.11, 63.0, 32.99, 50.99, 23.63, 27.6, 40.8]),
};

function variantOf(run: RunRecord): string | undefined {
  const v = run.config.variant;
  return typeof v === 'string' ? v : undefined;
}

const rowDim: Dim = { name: 'variant', of: (r) => ABLATION_ROWS[variantOf(r) ?? ''] ?? variantOf(r) };
/** One column per MQAR setting the variants ran on. */
const settingDim: Dim = {
  name: 'setting',
  of: (r) => `MQAR T=${taskNumber(r, 'input_seq_len')} kv=${taskNumber(r, 'num_kv_pairs')} d=${r.config.model?.d_model}`,
};

export const tab8_ablation = defineTable({
  id: 'tab8_ablation',
  title: 'MetaLA ablations (Tab. 8 rows): MQAR accuracy (%) of ours beside the paper\'s zero-shot LM scores',
  paperRef: 'MetaLA §6, Tab. 8 (paper-metala.md §5.3)',
  files: ['ablation.csv', 'ablation.md'],
  select: (r) => taskName(r) === 'mqar' && variantOf(r) !== undefined && r.config.model?.mixer?.name === 'metala',
  row: rowDim,
  columns: [settingDim],
  columnLabel: ([s]) => String(s),
  compareRows: (a, b) => {
    const ia = Object.values(ABLATION_ROWS).indexOf(a);
    const ib = Object.values(ABLATION_ROWS).indexOf(b);
    return (ia < 0 ? ORDER.length : ia) - (ib < 0 ? ORDER.length : ib) || a.localeCompare(b);
  },
  compareColumns: (a: readonly Key[], b: readonly Key[]) => {
    const pa = String(a[0]).startsWith('paper') ? 1 : 0;
    const pb = String(b[0]).startsWith('paper') ? 1 : 0;
    return pa - pb || (pa === 1 ? COLS.indexOf(String(a[0]).slice(10) as never) - COLS.indexOf(String(b[0]).slice(10) as never) : String(a[0]).localeCompare(String(b[0])));
  },
  valueName: 'accuracy',
  value: bestAccuracyPct,
  aggregate: 'max',
  format: pct1,
  bestRunDetails: BEST_RUN_DETAILS,
  paper: PAPER_TAB8,
  paperColumns: COLS.map((c) => [`paper LM: ${c}`]),
  notes: [
    'Rows are the variants of configs/ablation.yaml (metala ablate). Our cells: best MQAR test accuracy of each variant (max over its runs).',
    'The "paper LM" columns are the paper\'s Tab. 8 (360M LMs, 15B Pile tokens, zero-shot): shown for reference, with no Δ since the tasks differ. Our language-model columns arrive with the LM ablation configs.',
    'fixed decay is our extra row (a learned, input-independent decay per channel; the paper\'s C1 argument says it should lose recall).',
  ],
});
