// `npm run readme-figures`: the figures the README shows (results/readme/*.svg), rendered by
// `metala report` from the committed runs only. results/tables/ and results/figures/ are not
// tracked (report rewrites them with whatever runs a clone has, so a clone stays clean); these
// snapshots are, and a test re-renders them from the tracked runs to keep them current.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { runReport } from '../report/report.js';

/** The figures the README embeds: report figure ids, each written as <id>.svg. */
export const README_FIGURES = ['fig3_mqar', 'icl_linreg'] as const;

/** Run files report reads (never checkpoints). */
const RUN_FILES = /\/(config\.json|summary\.json|metrics\.jsonl)$/;

/**
 * Render README_FIGURES from the run folders git tracks under `repo`/results into `outDir`; returns
 * the files written. Untracked runs of the working tree (a user's own) are left out.
 */
export async function renderReadmeFigures(repo: string, outDir: string): Promise<string[]> {
  const tracked = execFileSync('git', ['-C', repo, 'ls-files', '-z', 'results'], { encoding: 'utf8' }).split('\0').filter((f) => RUN_FILES.test(f));
  const scratch = mkdtempSync(join(tmpdir(), 'metala-readme-'));
  try {
    for (const f of tracked) {
      const to = join(scratch, f);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(repo, f), to);
    }
    const figures = join(scratch, 'figures');
    const r = await runReport({ resultsDir: join(scratch, 'results'), outDir: join(scratch, 'tables'), figuresDir: figures, only: [...README_FIGURES] });
    mkdirSync(outDir, { recursive: true });
    const written: string[] = [];
    for (const f of r.figures) {
      const name = f.slice(figures.length + 1);
      if (!README_FIGURES.some((id) => name === `${id}.svg`)) continue;
      copyFileSync(f, join(outDir, name));
      written.push(join(outDir, name));
    }
    return written.sort();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const out = resolve(process.argv[2] ?? 'results/readme');
  renderReadmeFigures(resolve('.'), out).then(
    (files) => process.stdout.write(`${files.length} figure(s) → ${files.join(', ')}\n`),
    (e: unknown) => {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
