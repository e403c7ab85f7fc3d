// Renders a table model as Markdown (wide: rows × columns, `ours | paper | Δ` where the paper has
// numbers) and CSV (long: one line per cell with its run count and best run), style-models.md §8.7.
// Missing runs are `—` in Markdown and empty in CSV, never 0 (DESIGN.md §5).
import { stringify } from 'csv-stringify/sync';
import type { Cell, TableModel } from './aggregate.js';
import type { Key } from './types.js';

export const MISSING = '—';

function escapeMd(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function signed(d: number, digits = 1): string {
  const r = Number(d.toFixed(digits));
  return `${r >= 0 ? '+' : ''}${(r === 0 ? 0 : r).toFixed(digits)}`;
}

/** Markdown text of our value in a cell: formatted, ' *' when a contributing run is unfinished. */
export function oursText(model: TableModel, c: Cell): string {
  if (c.value === undefined) return MISSING;
  return `${model.spec.format(c.value)}${c.nUnfinished > 0 ? ' *' : ''}`;
}

export function deltaText(c: Cell, digits = 1): string {
  return c.value === undefined || c.paper === undefined ? MISSING : signed(c.value - c.paper.value, digits);
}

/** The name of the compared column: 'paper', or the spec's computed reference (e.g. 'theory'). */
function referenceName(model: TableModel): string | undefined {
  const { spec } = model;
  return spec.reference?.label ?? (spec.paper !== undefined ? 'paper' : undefined);
}

function hasUnfinished(model: TableModel): boolean {
  return model.rows.some((r) => model.columns.some((col) => model.cell(r, col.label).nUnfinished > 0));
}

export function renderMarkdown(model: TableModel): string {
  const { spec } = model;
  const ref = referenceName(model);
  const withPaper = ref !== undefined;
  const header = [spec.row.name];
  for (const col of model.columns) {
    if (withPaper) header.push(`${col.label} ours`, `${col.label} ${ref}`, `${col.label} Δ`);
    else header.push(col.label);
  }
  const lines = [
    `| ${header.map(escapeMd).join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const row of model.rows) {
    const cells = [row];
    for (const col of model.columns) {
      const c = model.cell(row, col.label);
      cells.push(oursText(model, c));
      if (withPaper) cells.push(c.paper?.text ?? MISSING, deltaText(c, spec.deltaDigits));
    }
    lines.push(`| ${cells.map(escapeMd).join(' | ')} |`);
  }

  const notes = [...spec.notes, ...(spec.notesFrom?.(model.runs) ?? [])];
  notes.push(`\`${MISSING}\` = no run (or no evaluation yet); missing cells are never shown as 0.`);
  if (hasUnfinished(model)) notes.push('`*` = the cell includes runs that are not finished; their best-so-far value counts.');
  let runsLine = `Rendered from ${model.nSelected} run${model.nSelected === 1 ? '' : 's'}`;
  if (model.nUnplaced > 0) runsLine += `; ${model.nUnplaced} could not be placed (a row or column key is missing from config.json)`;
  notes.push(`${runsLine}.`);

  return [`# ${spec.title}`, '', `Paper: ${spec.paperRef}.`, '', ...lines, '', ...notes.map((n) => `- ${n}`), ''].join('\n');
}

/** CSV header and records, one record per cell that has runs or a paper value. */
export function csvRecords(model: TableModel): { header: string[]; records: (Key | undefined)[][] } {
  const { spec } = model;
  const constants = Object.entries(spec.csvConstants ?? {});
  const details = spec.bestRunDetails ?? [];
  const ref = referenceName(model);
  const withPaper = ref !== undefined;
  const header = [
    spec.row.name,
    ...constants.map(([k]) => k),
    ...spec.columns.map((d) => d.name),
    spec.valueName,
    'n_runs',
    ...details.map((d) => d.name),
    'n_unfinished',
    ...(withPaper ? [ref, 'delta'] : []),
  ];
  const records: (Key | undefined)[][] = [];
  for (const row of model.rows) {
    for (const col of model.columns) {
      const c = model.cell(row, col.label);
      if (c.nPlaced === 0 && c.paper === undefined) continue;
      const best = c.best;
      records.push([
        row,
        ...constants.map(([, v]) => v),
        ...col.key,
        c.value === undefined ? undefined : Number(c.value.toFixed(2)),
        c.nRuns,
        ...details.map((d) => (best === undefined ? undefined : d.of(best))),
        c.nUnfinished,
        ...(withPaper
          ? [c.paper?.text, c.value === undefined || c.paper === undefined ? undefined : Number((c.value - c.paper.value).toFixed(Math.max(2, spec.deltaDigits ?? 1)))]
          : []),
      ]);
    }
  }
  return { header, records };
}

export function renderCsv(model: TableModel): string {
  const { header, records } = csvRecords(model);
  return stringify([header, ...records]);
}
