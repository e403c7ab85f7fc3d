// The table contract (style-models.md §8.7): a paper table or figure is a declarative spec — which
// runs, which row/column keys, how a cell aggregates its runs (the paper's own rule, e.g. max over
// the LR sweep as Zoology's plots take idxmax over lr) and the paper's numbers for `ours | paper | Δ`.
import type { RunRecord } from '../results/store.js';

export type Key = string | number;

/** A named value read from a run's config/summary, e.g. `d_model`; undefined = not applicable. */
export interface Dim {
  /** Column name in the long-format CSV. */
  name: string;
  of(run: RunRecord): Key | undefined;
}

/** A number as the paper prints it. */
export interface PaperValue {
  /** Verbatim, e.g. '>99.0'. */
  text: string;
  /** What Δ is computed against (for '>99.0': 99.0). */
  value: number;
}

export interface TableSpec {
  /** Registry key in the paper's numbering, e.g. 'fig3_mqar'. */
  id: string;
  title: string;
  /** Where in the paper, e.g. 'MetaLA §6, Fig. 3'. */
  paperRef: string;
  /** Output file names inside the report folder: [csv, md]. */
  files: readonly [string, string];
  /** Whether a run belongs to this table. */
  select(run: RunRecord): boolean;
  /** Row key, e.g. the mixer (plus variant). */
  row: Dim;
  /** Column keys, outermost first; one Markdown column per distinct combination. */
  columns: readonly Dim[];
  /** Markdown header of a column, e.g. 'T=256 kv=16 d=64'. */
  columnLabel(key: readonly Key[]): string;
  /** Column order; default compares the keys element by element (numbers numerically). */
  compareColumns?(a: readonly Key[], b: readonly Key[]): number;
  /** Row order; default alphabetical. */
  compareRows?(a: string, b: string): number;
  /** Constant CSV columns placed between the row and column dims, e.g. { seq_len: 512 }. */
  csvConstants?: Readonly<Record<string, Key>>;
  /** Name of the aggregated value in the CSV, e.g. 'accuracy'. */
  valueName: string;
  /** The value of one run in display units (percent); undefined = nothing evaluated yet. */
  value(run: RunRecord): number | undefined;
  /**
   * How a cell combines its runs: 'max' (the paper's tables: the best of an LR sweep) or 'mean'
   * (over seeds, e.g. the in-context regression study).
   */
  aggregate: 'max' | 'mean';
  /** Markdown cell text of a value. */
  format(v: number): string;
  /** Extra CSV columns read from the run that gave the cell its value (e.g. best_lr). */
  bestRunDetails?: readonly Dim[];
  /**
   * A reference computed from each run's own config instead of printed numbers (a theory's
   * prediction): the cell shows ours | <label> | Δ like a paper value. Its runs share one value.
   */
  reference?: { label: string; of(run: RunRecord): number | undefined };
  /** Decimals of Δ (default 1: percentage points). */
  deltaDigits?: number;
  /** Paragraphs computed from the selected runs, printed after `notes`. */
  notesFrom?(runs: readonly RunRecord[]): string[];
  /** Paper numbers: row key → column label → value. Present ⇒ Markdown has ours | paper | Δ. */
  paper?: Readonly<Record<string, Readonly<Record<string, PaperValue>>>>;
  /** Column keys the paper reports, shown even where we have no run. */
  paperColumns?: readonly (readonly Key[])[];
  /**
   * Columns computed from other columns of the same row (Tab. 7's average over tasks): `compute`
   * reads our values by column label (undefined = no value); the cell stays empty when it returns
   * undefined. Its run counts are the sums over the `from` columns.
   */
  derived?: readonly { key: readonly Key[]; from: readonly string[]; compute(value: (label: string) => number | undefined): number | undefined }[];
  /** Paragraphs printed under the Markdown table. */
  notes: readonly string[];
}

export function defineTable(spec: TableSpec): TableSpec {
  return spec;
}
