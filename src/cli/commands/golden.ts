// `metala golden <fixture.json | folder>`: checks our ports of ZeroS, FEM and InLine against golden
// fixtures made with their authors' code (../shared/golden/seed/, or fixtures users generate the same
// way): per fixture the max relative error of the output, the input gradient and every parameter
// gradient, and the parameter count. Exit 0 when all are within --tol, 1 otherwise, 2 on bad input.
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKENDS, type BackendName } from '../../backend/types.js';
import { InputError } from '../../util/errors.js';

function tolerance(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0, e.g. --tol 1e-4');
  return n;
}

/** The fixture files a path names: the file, or a folder's *.json except its manifest.json. */
export function fixtureFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new InputError(`${path}: not found. Give a fixture .json file or a folder of them (e.g. ../shared/golden/seed)`);
  }
  if (!st.isDirectory()) return [path];
  const files = readdirSync(path)
    .filter((f) => f.endsWith('.json') && f !== 'manifest.json')
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0) throw new InputError(`${path}: no fixture .json files in this folder. Give a folder such as ../shared/golden/seed`);
  return files;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toExponential(1) : String(x));

export function goldenCommand(): Command {
  return new Command('golden')
    .description("check the ports of ZeroS, FEM and InLine against golden fixtures from their authors' code (forward and every gradient)")
    .argument('<path>', 'a fixture .json, or a folder of them (../shared/golden/seed)')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(BACKENDS).default('auto'))
    .option('--tol <x>', 'largest max-relative error (max |ours − ref| / max |ref|, per tensor) that passes', tolerance, 1e-4)
    .action(async (path: string, o: { backend: BackendName; tol: number }) => {
      const files = fixtureFiles(path);
      const { initBackend } = await import('../../backend/index.js');
      const { checkFixture, NoPortError } = await import('../../golden/check.js');
      const info = await initBackend(o.backend);
      let failed = 0;
      for (const f of files) {
        let r;
        try {
          r = await checkFixture(f, o.tol);
        } catch (e) {
          if (!(e instanceof NoPortError)) throw e;
          failed++;
          process.stdout.write(`FAIL ${basename(f)}: ${e.message.slice(f.length + 2)}\n`);
          continue;
        }
        if (!r.pass) failed++;
        const pc = r.paramCount.ours === r.paramCount.reference ? `${r.paramCount.ours} parameters (= fixture)` : `${r.paramCount.ours} parameters, fixture ${r.paramCount.reference}`;
        process.stdout.write(`${r.pass ? 'ok  ' : 'FAIL'} ${basename(f)}: ${r.mixer}, ${r.causal ? 'causal' : 'non-causal'}, ${pc}\n`);
        const width = Math.max(...r.rows.map((x) => x.what.length));
        for (const x of r.rows) process.stdout.write(`       ${x.what.padEnd(width)}  max rel ${fmt(x.maxRel)}  max abs ${fmt(x.maxAbs)}${x.maxRel > o.tol ? '  > tol' : ''}\n`);
      }
      process.stdout.write(`${files.length} fixture(s) on ${info.backend}: ${files.length - failed} within ${o.tol}, ${failed} not\n`);
      if (failed > 0) process.exitCode = 1;
    });
}
