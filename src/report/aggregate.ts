// Groups a table's runs into cells and applies the spec's aggregation (max over the LR sweep, as
// Zoology's analysis takes idxmax of valid/accuracy over lr; reference-implementations.md §2.4).
// Pure: runs in, a table model out; render.ts turns it into Markdown and CSV.
import type { RunRecord } from '../results/store.js';
import type { Key, PaperValue, TableSpec } from './types.js';

export interface Cell {
  /** Aggregated value in display units; undefined when no run of the cell has one. */
  value: number | undefined;
  /** Runs placed in this cell, with or without a value. */
  nPlaced: number;
  /** Runs that had a value (the LR sweep the max is over). */
  nRuns: number;
  /** Of those, runs whose status is not 'finished' (their value is a best-so-far). */
  nUnfinished: number;
  /** The run that gave `value`. */
  best: RunRecord | undefined;
  paper: PaperValue | undefined;
}

export interface Column {
  key: readonly Key[];
  label: string;
}

export interface TableModel {
  spec: TableSpec;
  rows: string[];
  columns: Column[];
  /** cell(row, column label). */
  cell(row: string, label: string): Cell;
  /** Runs the spec selected. */
  nSelected: number;
  /** Selected runs that could not be placed (a row or column key missing). */
  nUnplaced: number;
  /** The runs the spec selected. */
  runs: readonly RunRecord[];
}

function compareKeys(a: readonly Key[], b: readonly Key[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

const EMPTY: Cell = { value: undefined, nPlaced: 0, nRuns: 0, nUnfinished: 0, best: undefined, paper: undefined };

export function buildTable(spec: TableSpec, allRuns: readonly RunRecord[]): TableModel {
  const selected = allRuns.filter((r) => spec.select(r));
  const cells = new Map<string, Cell>();
  const rows = new Set<string>();
  const columns = new Map<string, Column>();
  const id = (row: string, label: string): string => `${row}\u0000${label}`;
  const addColumn = (key: readonly Key[]): string => {
    const label = spec.columnLabel(key);
    if (!columns.has(label)) columns.set(label, { key, label });
    return label;
  };
  const getCell = (row: string, label: string): Cell => {
    const k = id(row, label);
    let c = cells.get(k);
    if (c === undefined) {
      c = { ...EMPTY };
      cells.set(k, c);
    }
    return c;
  };

  const refs = new Map<Cell, { sum: number; n: number }>();
  let nUnplaced = 0;
  for (const run of selected) {
    const row = spec.row.of(run);
    const key = spec.columns.map((d) => d.of(run));
    if (row === undefined || key.some((k) => k === undefined)) {
      nUnplaced++;
      continue;
    }
    const label = addColumn(key as Key[]);
    rows.add(String(row));
    const c = getCell(String(row), label);
    c.nPlaced++;
    const v = spec.value(run);
    if (v === undefined || !Number.isFinite(v)) continue;
    c.nRuns++;
    if (run.summary.status !== 'finished') c.nUnfinished++;
    if (spec.aggregate === 'mean') {
      // Running mean; `best` is the first run (its details stand for the cell).
      c.value = c.value === undefined ? v : c.value + (v - c.value) / c.nRuns;
      c.best ??= run;
    } else if (c.value === undefined || v > c.value) {
      // 'max'; ties keep the earlier run (runs arrive sorted by folder), so output is stable.
      c.value = v;
      c.best = run;
    }
    const ref = spec.reference?.of(run);
    if (ref !== undefined) {
      // The reference is aggregated like the value: over the same runs (each seed has its own).
      const r = refs.get(c) ?? { sum: 0, n: 0 };
      r.sum += ref;
      r.n += 1;
      refs.set(c, r);
      // 'mean': the mean over the cell's runs; 'max': the best run's own.
      const v = spec.aggregate === 'mean' ? r.sum / r.n : (spec.reference!.of(c.best!) ?? ref);
      c.paper = { text: spec.format(v), value: v };
    }
  }

  // Derived columns (e.g. an average over tasks) read the run cells of their row.
  for (const d of spec.derived ?? []) {
    const label = addColumn(d.key);
    for (const row of rows) {
      const v = d.compute((l) => cells.get(id(row, l))?.value);
      if (v === undefined || !Number.isFinite(v)) continue;
      const c = getCell(row, label);
      c.value = v;
      for (const l of d.from) {
        const src = cells.get(id(row, l));
        if (src === undefined) continue;
        c.nPlaced += src.nPlaced;
        c.nRuns += src.nRuns;
        c.nUnfinished += src.nUnfinished;
      }
    }
  }

  if (spec.paper !== undefined) {
    for (const key of spec.paperColumns ?? []) addColumn(key);
    for (const [row, byColumn] of Object.entries(spec.paper)) {
      rows.add(row);
      for (const [label, pv] of Object.entries(byColumn)) {
        if (!columns.has(label)) continue;
        getCell(row, label).paper = pv;
      }
    }
  }

  const compareRows = spec.compareRows ?? ((a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0));
  const compareColumns = spec.compareColumns ?? compareKeys;
  return {
    spec,
    rows: [...rows].sort(compareRows),
    columns: [...columns.values()].sort((a, b) => compareColumns(a.key, b.key)),
    cell: (row, label) => cells.get(id(row, label)) ?? EMPTY,
    nSelected: selected.length,
    nUnplaced,
    runs: selected,
  };
}
