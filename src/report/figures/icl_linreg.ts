// The in-context regression study as a picture (Li, Rawat, Oymak, NeurIPS 2024, Fig. 2–3): measured
// excess risk of one-layer linear attention and H3 against the swept quantity (context length n,
// the rag α, or the rank r), one panel per setting, with each model's PGD optimum on the same test
// prompts dashed. The
// numbers are the icl_linreg table's cells, so table and figure agree.
import type { TopLevelSpec } from 'vega-lite';
import type { TableModel } from '../aggregate.js';
import { CHART_CONFIG } from './svg.js';

export interface IclPoint {
  /** The setting, with what it sweeps: 'e1-iid (n)'. */
  panel: string;
  x: number;
  series: string;
  kind: 'measured' | 'PGD optimum';
  excess_risk: number;
}

export function iclPoints(model: TableModel): IclPoint[] {
  const out: IclPoint[] = [];
  for (const row of model.rows) {
    const m = /^(.+), (\S+) = (\S+)$/.exec(row);
    if (m === null) continue;
    const panel = `${m[1]} (${m[2]})`;
    const x = Number(m[3]);
    for (const col of model.columns) {
      const c = model.cell(row, col.label);
      if (c.value !== undefined) out.push({ panel, x, series: `${col.label} measured`, kind: 'measured', excess_risk: c.value });
      if (c.paper !== undefined && c.nPlaced > 0) out.push({ panel, x, series: `${col.label} PGD optimum`, kind: 'PGD optimum', excess_risk: c.paper.value });
    }
  }
  return out;
}

export function iclSpec(points: IclPoint[]): TopLevelSpec {
  const panels = [...new Set(points.map((p) => p.panel))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'In-context linear regression: excess risk vs the PGD optimum (Li et al. 2024)', subtitle: 'one-layer linear attention (LA) and H3, d = 10; dashed: the best one-step PGD predictor on the same test prompts' },
    data: { values: points },
    facet: { field: 'panel', type: 'nominal', sort: panels, title: null },
    columns: 3,
    resolve: { scale: { x: 'independent', y: 'independent' } },
    spec: {
      width: 220,
      height: 170,
      layer: [
        {
          mark: { type: 'line', strokeWidth: 2 },
          encoding: {
            color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 160 } },
            strokeDash: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['measured', 'PGD optimum'], range: [[1, 0], [5, 3]] } },
          },
        },
        {
          // Measured: filled dots; the PGD optimum: rings (visible where a panel has one x).
          mark: { type: 'point', size: 50 },
          encoding: {
            color: { field: 'series', type: 'nominal', title: null },
            fill: { condition: { test: "datum.kind === 'measured'", field: 'series', type: 'nominal', legend: null }, value: 'transparent' },
            tooltip: [{ field: 'panel' }, { field: 'x' }, { field: 'series' }, { field: 'excess_risk' }],
          },
        },
      ],
      encoding: {
        x: { field: 'x', type: 'quantitative', title: null, scale: { zero: false }, axis: { format: '~r', tickMinStep: 0.1 } },
        y: { field: 'excess_risk', type: 'quantitative', title: 'excess risk', scale: { zero: true } },
      },
    },
    config: CHART_CONFIG,
  } as TopLevelSpec;
}
