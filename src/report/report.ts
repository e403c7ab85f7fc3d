// `metala report`: reads run folders from disk only (DESIGN.md §5) and writes <outDir>/<file>.csv
// and .md for every registered table that has at least one matching run. Malformed run folders
// are skipped and returned, never fatal.
import { join } from 'node:path';
import { atomicWriteFile, scanRuns } from '../results/store.js';
import type { SkippedRun } from '../results/store.js';
import { buildTable, type TableModel } from './aggregate.js';
import { CURVES_ID, renderFigures } from './figures/index.js';
import { EFFICIENCY_ID, renderEfficiency } from './efficiency.js';
import { TABLES, getTable } from './registry.js';
import { renderCsv, renderMarkdown } from './render.js';
import type { TableSpec } from './types.js';

export interface ReportOptions {
  /** Root of the run folders, e.g. 'results'. */
  resultsDir: string;
  /** Where the tables go, e.g. 'results/tables'. */
  outDir: string;
  /** Table ids to render (default all); unknown ids throw with suggestions. */
  only?: readonly string[];
  /** Where the SVG figures go (default <resultsDir>/figures). */
  figuresDir?: string;
}

export interface WrittenTable {
  id: string;
  /** Paths of the files written (csv, md). */
  files: string[];
  /** Runs the table selected. */
  runs: number;
  /** Cells with a value of ours. */
  cells: number;
}

/** What was written; iterating it yields the written file paths (csv, md per table). */
export interface ReportResult extends Iterable<string> {
  written: WrittenTable[];
  /** Tables with no matching run (nothing written for them). */
  empty: string[];
  /** Run folders that could not be read, with the reason. */
  skipped: SkippedRun[];
  /** Readable runs found. */
  runs: number;
  /** SVG figures written. */
  figures: string[];
}

export async function runReport(opts: ReportOptions): Promise<ReportResult> {
  // Resolve names first so a typo fails before anything is read or written.
  const wantEfficiency = opts.only === undefined || opts.only.includes(EFFICIENCY_ID);
  const only = opts.only?.filter((id) => id !== EFFICIENCY_ID && id !== CURVES_ID);
  const specs: TableSpec[] = only === undefined ? Object.values(TABLES) : only.map((id) => getTable(id));
  const { runs, skipped } = await scanRuns(opts.resultsDir);
  const written: WrittenTable[] = [];
  const empty: string[] = [];
  let fig3: TableModel | undefined;
  let icl: TableModel | undefined;
  for (const spec of specs) {
    const model = buildTable(spec, runs);
    if (spec.id === 'fig3_mqar') fig3 = model;
    if (spec.id === 'icl_linreg') icl = model;
    if (model.nSelected === 0) {
      empty.push(spec.id);
      continue;
    }
    const [csvName, mdName] = spec.files;
    const csvPath = join(opts.outDir, csvName);
    const mdPath = join(opts.outDir, mdName);
    await atomicWriteFile(csvPath, renderCsv(model));
    await atomicWriteFile(mdPath, renderMarkdown(model));
    let cells = 0;
    for (const r of model.rows) for (const c of model.columns) if (model.cell(r, c.label).value !== undefined) cells++;
    written.push({ id: spec.id, files: [csvPath, mdPath], runs: model.nSelected, cells });
  }
  if (wantEfficiency) {
    // Bench records live in <results>/bench, not in run folders.
    const eff = await renderEfficiency(join(opts.resultsDir, 'bench'), opts.outDir);
    if (eff === undefined) empty.push(EFFICIENCY_ID);
    else {
      written.push({ id: EFFICIENCY_ID, files: eff.files, runs: eff.cases, cells: eff.cases });
      for (const reason of eff.skipped) skipped.push({ dir: join(opts.resultsDir, 'bench'), reason });
    }
  }
  const figures = await renderFigures({
    figuresDir: opts.figuresDir ?? join(opts.resultsDir, 'figures'),
    runs,
    fig3,
    icl,
    benchDir: join(opts.resultsDir, 'bench'),
    want: (id) => opts.only === undefined || opts.only.includes(id),
  });
  return {
    written,
    empty,
    skipped,
    runs: runs.length,
    figures,
    *[Symbol.iterator]() {
      for (const w of written) yield* w.files;
    },
  };
}
