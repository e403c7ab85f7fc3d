// What the zero-shot tables (src/report/tables/tab4_superglue.ts … tab8_ablation_lm.ts) share:
// reading results/eval/<checkpoint>/<column>/ runs, a row per checkpoint labelled with its model,
// size and training tokens (as the paper's PS and T columns), and one builder so each table file is
// just the paper's numbers. A released MetaLA checkpoint lands in the matching Tab. A9 row.
import { basename, dirname } from 'node:path';
import type { RunRecord } from '../results/store.js';
import { defineTable, type Key, type PaperValue, type TableSpec } from './types.js';
import { columnKey, type Column } from '../eval/groups.js';

type Obj = Record<string, unknown>;

export function isZeroShot(run: RunRecord): boolean {
  return run.config.task.name === 'zeroshot';
}

/** `task:metric` of a zero-shot run (`avg.tab5:mean` for an average). */
export function zeroShotColumn(run: RunRecord): string | undefined {
  const t = run.config.task;
  return typeof t['benchmark'] === 'string' && typeof t['metric'] === 'string' ? columnKey({ task: t['benchmark'], metric: t['metric'] }) : undefined;
}

/** 0.36B, 1.3B, 15B, 2.6M, 75K: the paper's PS/T style. */
export function fmtCount(n: number): string {
  const [d, s] = n >= 1e9 ? [1e9, 'B'] : n >= 1e6 ? [1e6, 'M'] : n >= 1e3 ? [1e3, 'K'] : [1, ''];
  return `${Number((n / d).toPrecision(n / d >= 100 ? 3 : 2))}${s}`;
}

/** A paper row's label: `Model (PS params, T tokens)`, PS and T in billions as printed. */
export function paperRow(model: string, ps: string, t: string | undefined): string {
  return t === undefined ? `${model} (${ps}B params)` : `${model} (${ps}B params, ${t}B tokens)`;
}

/** Tab. 8's row names from the MetaLA mixer switches (configs/lm/ablation.yaml). */
export function ablationVariant(mixer: Obj | undefined): string {
  if (mixer?.['name'] !== 'metala') return String(mixer?.['name'] ?? '?');
  if (mixer['self_aug'] === false) return 'w/o self-aug';
  if (mixer['conv_size'] === 0) return 'w/o short conv';
  if (mixer['use_key'] === true) return 'w/ key';
  if (mixer['decay'] === 'fixed') return 'fixed decay';
  return 'full';
}

/** Our row: `ours: <model> [<checkpoint>] (<params> params, <tokens> tokens[; limits])`. */
export function oursRow(run: RunRecord, model: string): string | undefined {
  const ck = (run.config as Obj)['checkpoint'] as Obj | undefined;
  if (ck === undefined) return undefined;
  const task = run.config.task;
  const tokens = typeof ck['train_tokens'] === 'number' ? fmtCount(ck['train_tokens']) : '?';
  const notes: string[] = [];
  if (typeof task['limit'] === 'number') notes.push(`first ${task['limit']} docs`);
  if (typeof task['data_dir'] === 'string') notes.push(`data ${basename(dirname(task['data_dir']))}/${basename(task['data_dir'])}`);
  return `ours: ${model} [${String(ck['name'])}] (${fmtCount(Number(ck['params']))} params, ${tokens} tokens${notes.map((n) => `; ${n}`).join('')})`;
}

export interface ZeroShotTableOptions {
  id: string;
  title: string;
  paperRef: string;
  files: readonly [string, string];
  /** Columns in the paper's order; AVG is appended as `avg.<group>:mean`. */
  columns: readonly Column[];
  group: string;
  /** Paper rows in order: label → column label → value (as printed). */
  paper: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Row label of one of our runs, or undefined to leave it out of this table. */
  row(run: RunRecord): string | undefined;
  notes: readonly string[];
}

/** A Tab. 4/5/A5/A9/8-shaped table: rows = models, columns = the paper's (task, metric) + AVG. */
export function zeroShotTable(o: ZeroShotTableOptions): TableSpec {
  const cols = [...o.columns, { task: `avg.${o.group}`, metric: 'mean' as const, label: 'AVG' }];
  const labelOf = new Map(cols.map((c) => [columnKey(c), c.label]));
  const order = cols.map((c) => columnKey(c));
  const paperOrder = Object.keys(o.paper);
  const paper: Record<string, Record<string, PaperValue>> = {};
  for (const [row, vals] of Object.entries(o.paper)) {
    paper[row] = Object.fromEntries(Object.entries(vals).map(([k, v]) => [k, { text: v.toFixed(2), value: v }]));
  }
  const rank = (r: string): number => (paperOrder.includes(r) ? paperOrder.indexOf(r) : paperOrder.length);
  return defineTable({
    id: o.id,
    title: o.title,
    paperRef: o.paperRef,
    files: o.files,
    select: (r) => isZeroShot(r) && labelOf.has(zeroShotColumn(r) ?? '') && o.row(r) !== undefined,
    row: { name: 'model', of: (r) => o.row(r) },
    columns: [{ name: 'column', of: (r) => zeroShotColumn(r) }],
    columnLabel: ([k]) => labelOf.get(String(k)) ?? String(k),
    compareColumns: (a: readonly Key[], b: readonly Key[]) => order.indexOf(String(a[0])) - order.indexOf(String(b[0])),
    compareRows: (a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0),
    valueName: 'value',
    value: (r) => {
      const v = (r.summary as Obj)['value'];
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    },
    aggregate: 'max',
    format: (v) => v.toFixed(2),
    paper,
    paperColumns: order.map((k) => [k]),
    notes: [
      ...o.notes,
      'ours: zero-shot log-likelihood scoring ported from lm-evaluation-harness v0.4 (configs/tasks/*.yaml; acc_norm divides by the choice length in characters); percent, except LAMBADA perplexity. Rows show the checkpoint, its parameters and its training tokens (? = unknown, e.g. a released checkpoint).',
      'Rows marked "first N docs" or "data …" were scored on a subset or on other data (e.g. the test fixtures) and are not comparable with the paper.',
    ],
  });
}
