// `metala report`'s figures (SVG, Vega-Lite), written beside the tables: Fig. 3 from the fig3_mqar
// table, the in-context regression study from the icl_linreg table, Fig. A2 from the bench files, and one training-curve figure per experiment. A figure with
// no data is not written.
import { join } from 'node:path';
import type { RunRecord } from '../../results/store.js';
import { atomicWriteFile } from '../../results/store.js';
import type { TableModel } from '../aggregate.js';
import { readBenchFiles } from '../efficiency.js';
import { curvePoints, curvesSpec } from './curves.js';
import { efficiencyPoints, efficiencySpec } from './efficiency.js';
import { fig3Points, fig3Spec } from './fig3_mqar.js';
import { iclPoints, iclSpec } from './icl_linreg.js';
import { vegaLiteToSvg } from './svg.js';

/** Figure ids `--only` accepts besides the table ids (fig3_mqar and figA2_efficiency also draw). */
export const CURVES_ID = 'training_curves';

export interface FigureOptions {
  figuresDir: string;
  runs: readonly RunRecord[];
  /** The fig3_mqar table model, when that table was built. */
  fig3?: TableModel;
  /** The icl_linreg table model, when that table was built. */
  icl?: TableModel;
  benchDir: string;
  want(id: string): boolean;
}

/** File name of an experiment's curves: its path with '/' as '__' (mqar/fig3 → mqar__fig3.svg). */
export function curvesFile(experiment: string): string {
  return `${experiment.split('/').join('__')}.svg`;
}

export async function renderFigures(o: FigureOptions): Promise<string[]> {
  const written: string[] = [];
  const write = async (file: string, svg: Promise<string>): Promise<void> => {
    await atomicWriteFile(file, await svg);
    written.push(file);
  };
  if (o.fig3 !== undefined && o.want('fig3_mqar')) {
    const pts = fig3Points(o.fig3);
    if (pts.length > 0) await write(join(o.figuresDir, 'fig3_mqar.svg'), vegaLiteToSvg(fig3Spec(pts)));
  }
  if (o.icl !== undefined && o.want('icl_linreg')) {
    const pts = iclPoints(o.icl);
    if (pts.length > 0) await write(join(o.figuresDir, 'icl_linreg.svg'), vegaLiteToSvg(iclSpec(pts)));
  }
  if (o.want('figA2_efficiency')) {
    const { files } = await readBenchFiles(o.benchDir);
    const pts = efficiencyPoints(files);
    if (pts.length > 0) await write(join(o.figuresDir, 'figA2_efficiency.svg'), vegaLiteToSvg(efficiencySpec(pts)));
  }
  if (o.want(CURVES_ID)) {
    const byExperiment = new Map<string, RunRecord[]>();
    for (const r of o.runs) {
      const e = String(r.config.experiment);
      byExperiment.set(e, [...(byExperiment.get(e) ?? []), r]);
    }
    for (const [experiment, runs] of [...byExperiment].sort(([a], [b]) => a.localeCompare(b))) {
      const pts = await curvePoints(runs);
      if (pts.length > 0) await write(join(o.figuresDir, 'curves', curvesFile(experiment)), vegaLiteToSvg(curvesSpec(experiment, pts)));
    }
  }
  return written;
}
