// The paper's zero-shot tables as groups of (task, metric) columns (MetaLA Tab. 4, 5, A5, A9, 8;
// paper-metala.md §5.2–5.3): which tasks `metala eval --tasks tab5` runs, which metric each column
// reports (acc_norm for HellaSwag, ARC-c, OBQA; acc otherwise; CB F1, MultiRC EM, LAMBADA ppl and
// acc), and which columns each table's AVG averages. Read by the CLI, results.ts and report/.
import type { MetricId } from './task_config.js';

export interface Column {
  task: string;
  metric: MetricId;
  /** Header as the paper prints it. */
  label: string;
}

export interface EvalGroup {
  id: string;
  /** Columns in the paper's order (AVG excluded). */
  columns: readonly Column[];
  /** Columns that enter AVG (Tab. A5's AVG excludes LAMBADA). */
  averaged: readonly string[];
}

const c = (task: string, metric: MetricId, label: string): Column => ({ task, metric, label });

const COMMONSENSE = [
  c('logiqa', 'acc', 'LOGIQA'),
  c('wsc273', 'acc', 'WSC273'),
  c('boolq', 'acc', 'BOOLQ'),
  c('piqa', 'acc', 'PIQA'),
  c('hellaswag', 'acc_norm', 'HS'),
  c('winogrande', 'acc', 'WG'),
  c('arc_challenge', 'acc_norm', 'ARC-c'),
  c('openbookqa', 'acc_norm', 'OBQA'),
];

const keys = (cols: readonly Column[]): string[] => cols.map(columnKey);

/** `task:metric`, the identity of a reported number. */
export function columnKey(col: { task: string; metric: string }): string {
  return `${col.task}:${col.metric}`;
}

const SUPERGLUE = [
  c('wsc', 'acc', 'WSC'),
  c('wic', 'acc', 'WIC'),
  c('rte', 'acc', 'RTE'),
  c('cb', 'f1', 'CB'),
  c('multirc', 'em', 'MULTIRC'),
  c('boolq', 'acc', 'BOOLQ'),
  c('copa', 'acc', 'COPA'),
];

const A5 = [
  c('lambada', 'perplexity', 'LAMB ppl'),
  c('lambada', 'acc', 'LAMB acc'),
  ...COMMONSENSE.slice(0, 6),
  c('arc_easy', 'acc', 'ARC-e'),
  ...COMMONSENSE.slice(6),
];

const A9 = [
  c('boolq', 'acc', 'BOOLQ'),
  c('piqa', 'acc', 'PIQA'),
  c('hellaswag', 'acc_norm', 'HS'),
  c('winogrande', 'acc', 'WG'),
  c('arc_easy', 'acc', 'ARC-E'),
  c('arc_challenge', 'acc_norm', 'ARC-C'),
  c('openbookqa', 'acc_norm', 'OBQA'),
];

export const EVAL_GROUPS: Readonly<Record<string, EvalGroup>> = {
  tab4: { id: 'tab4', columns: SUPERGLUE, averaged: keys(SUPERGLUE) },
  tab5: { id: 'tab5', columns: COMMONSENSE, averaged: keys(COMMONSENSE) },
  taba5: { id: 'taba5', columns: A5, averaged: keys(A5.slice(2)) },
  taba9: { id: 'taba9', columns: A9, averaged: keys(A9) },
};

/** Every task of a group (each once, in column order). */
export function groupTasks(g: EvalGroup): string[] {
  return [...new Set(g.columns.map((col) => col.task))];
}

/** The reported (task, metric) pairs of a task across all tables: e.g. lambada → acc, perplexity. */
export function reportedMetrics(task: string): MetricId[] {
  const out = new Set<MetricId>();
  for (const g of Object.values(EVAL_GROUPS)) for (const col of g.columns) if (col.task === task) out.add(col.metric);
  return [...out];
}

/** `--tasks` entries: task names or group ids (tab4, tab5, taba5, taba9, all) → task names. */
export function expandTaskList(list: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of list) {
    const g = EVAL_GROUPS[t];
    const tasks = t === 'all' ? [...new Set(Object.values(EVAL_GROUPS).flatMap(groupTasks))] : g !== undefined ? groupTasks(g) : [t];
    for (const x of tasks) if (!out.includes(x)) out.push(x);
  }
  return out;
}
