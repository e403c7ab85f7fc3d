// Public entry of the report package (lazily imported by `metala report`): the table registry,
// the builder/renderers and runReport, which reads results/ only (DESIGN.md §5, style-models.md §8.7).
export { runReport } from './report.js';
export type { ReportOptions, ReportResult, WrittenTable } from './report.js';
export { TABLES, getTable } from './registry.js';
export type { TableId } from './registry.js';
export { buildTable } from './aggregate.js';
export type { Cell, Column, TableModel } from './aggregate.js';
export { renderCsv, renderMarkdown } from './render.js';
export type { Dim, Key, PaperValue, TableSpec } from './types.js';
