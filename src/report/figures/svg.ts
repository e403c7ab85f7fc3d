// Vega-Lite → SVG in Node, headless: vega-lite compiles the chart to a Vega spec, a Vega View with
// no renderer (no DOM, no canvas) builds the scenegraph, and toSVG() serialises it. Text widths
// are estimated (no font metrics), so every chart sets legend/axis label limits.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Shared look: white background, label limits (estimated text widths), readable fonts. */
export const CHART_CONFIG = {
  background: 'white',
  font: 'sans-serif',
  legend: { labelLimit: 220, titleLimit: 220 },
  axis: { labelLimit: 160, titleFontSize: 12, labelFontSize: 11 },
  title: { fontSize: 14, subtitleFontSize: 11, anchor: 'start' },
} as const;

/**
 * Vega-Lite warnings (a scale option that does not apply, a dropped encoding) mean one of our
 * specs is wrong: they are errors here rather than lines on the user's terminal.
 */
function strictLogger(): vega.LoggerInterface {
  const fail = (...args: readonly unknown[]): never => {
    throw new Error(`internal: chart spec: ${args.map(String).join(' ')}`);
  };
  const logger = vega.logger(vega.Warn);
  return Object.assign(logger, { warn: fail, error: fail }) as vega.LoggerInterface;
}

export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec, { logger: strictLogger() }).spec), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
