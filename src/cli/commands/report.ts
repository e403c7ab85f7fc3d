// `metala report`: read results/ only and write results/tables/*.csv|md for every table whose runs exist.
import { Command } from 'commander';

export function reportCommand(): Command {
  return new Command('report')
    .description('render the paper tables from results/ into results/tables/*.csv and *.md, and figures into results/figures/*.svg')
    .option('--results <dir>', 'results folder', 'results')
    .option('--out <dir>', 'output folder (default: <results>/tables)')
    .option('--only <ids>', 'comma-separated table ids (see metala list tables), or training_curves')
    .option('--figures <dir>', 'where the SVG figures go (default: <results>/figures)')
    .action(async (o: { results: string; out?: string; only?: string; figures?: string }) => {
      const { runReport } = await import('../../report/index.js');
      const { join } = await import('node:path');
      const r = await runReport({
        resultsDir: o.results,
        outDir: o.out ?? join(o.results, 'tables'),
        only: o.only?.split(',').map((s) => s.trim()),
        ...(o.figures !== undefined ? { figuresDir: o.figures } : {}),
      });
      for (const w of r.written) process.stdout.write(`${w.id}: ${w.cells} cell(s) from ${w.runs} run(s) → ${w.files.join(', ')}\n`);
      if (r.figures.length > 0) process.stdout.write(`figures: ${r.figures.length} SVG file(s) → ${r.figures.length <= 3 ? r.figures.join(', ') : `${r.figures.slice(0, 2).join(', ')}, … (${o.figures ?? join(o.results, 'figures')})`}\n`);
      if (r.empty.length > 0) process.stdout.write(`no runs yet for: ${r.empty.join(', ')}\n`);
      for (const s of r.skipped) process.stderr.write(`skipped ${s.dir}: ${s.reason}\n`);
      if (r.runs === 0) process.stderr.write(`no runs found under ${o.results}/ (train one first: metala train configs/smoke/mqar.yaml)\n`);
    });
}
