// MetaLA Fig. 3 as a picture: MQAR accuracy against d_model, one panel per (sequence length, KV
// pairs), one line per mixer; a cell that still includes an unfinished run is drawn as a cross.
// The numbers are the fig3_mqar table's cells (max over the LR sweep), so table and figure agree.
import type { TopLevelSpec } from 'vega-lite';
import type { TableModel } from '../aggregate.js';
import { CHART_CONFIG } from './svg.js';

export interface Fig3Point {
  panel: string;
  d_model: number;
  mixer: string;
  accuracy: number;
  /** 'finished' or 'unfinished' (some run of the cell stopped before its last step). */
  status: string;
  runs: number;
}

/** Fig. 3's two settings (sequence length, KV pairs), as in the fig3_mqar table. */
const FIG3_SETTINGS = new Set(['256/16', '512/64']);

/**
 * The cells with a value, one point per (mixer, setting, d_model). Only Fig. 3's settings when the
 * results have any (other settings, e.g. the smoke and zoo runs, stay in the table); otherwise every
 * setting, so a first smoke run still draws.
 */
export function fig3Points(model: TableModel): Fig3Point[] {
  const setting = (key: readonly unknown[]): string => `${String(key[0])}/${String(key[1])}`;
  const hasFig3 = model.columns.some((c) => FIG3_SETTINGS.has(setting(c.key)) && model.rows.some((r) => model.cell(r, c.label).value !== undefined));
  const out: Fig3Point[] = [];
  for (const c of model.columns) {
    if (hasFig3 && !FIG3_SETTINGS.has(setting(c.key))) continue;
    const [t, kv, d] = c.key as [number, number, number];
    for (const row of model.rows) {
      const cell = model.cell(row, c.label);
      if (cell.value === undefined) continue;
      out.push({ panel: `T = ${t}, ${kv} KV pairs`, d_model: d, mixer: row, accuracy: cell.value, status: cell.nUnfinished > 0 ? 'unfinished' : 'finished', runs: cell.nRuns });
    }
  }
  return out;
}

export function fig3Spec(points: Fig3Point[]): TopLevelSpec {
  const panels = [...new Set(points.map((p) => p.panel))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'MQAR accuracy vs model width (MetaLA Fig. 3)', subtitle: 'best test accuracy over the learning-rate sweep; × = the cell includes an unfinished run' },
    data: { values: points },
    facet: { column: { field: 'panel', type: 'nominal', sort: panels, title: null } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        { mark: { type: 'line', strokeWidth: 2 }, encoding: { color: { field: 'mixer', type: 'nominal', title: 'mixer' } } },
        {
          mark: { type: 'point', filled: true, size: 70 },
          encoding: {
            color: { field: 'mixer', type: 'nominal', title: 'mixer' },
            shape: { field: 'status', type: 'nominal', title: 'runs', scale: { domain: ['finished', 'unfinished'], range: ['circle', 'cross'] } },
            tooltip: [{ field: 'mixer' }, { field: 'd_model' }, { field: 'accuracy' }, { field: 'runs' }, { field: 'status' }],
          },
        },
      ],
      encoding: {
        x: { field: 'd_model', type: 'quantitative', scale: { type: 'log', base: 2, nice: false }, axis: { values: [...new Set(points.map((p) => p.d_model))].sort((a, b) => a - b), format: 'd' }, title: 'd_model' },
        y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 100] }, title: 'accuracy (%)' },
      },
    },
    config: CHART_CONFIG,
  } as TopLevelSpec;
}
