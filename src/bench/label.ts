// A bench case's name in tables (bench's own printout and the Fig. A2 report). Its own file so that
// `metala report` and the bench parent process do not load the models that run.ts imports.
import type { BenchResult } from './run.js';

/** The mixer, its stack (`bench --stack`), and the fused kernel families the case ran without (`bench --fused-off`). */
export function benchLabel(r: Pick<BenchResult, 'mixer' | 'fused_off' | 'stack'>): string {
  const name = r.stack !== undefined && r.stack > 1 ? `${r.mixer.name} ×${r.stack} stacked` : r.mixer.name;
  return r.fused_off !== undefined && r.fused_off.length > 0 ? `${name} (fused off: ${r.fused_off.join(', ')})` : name;
}
