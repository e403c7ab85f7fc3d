// The CLI starts without TF.js: commands declare their options from backend/types.ts, and a
// backend (TF.js, wasm, Dawn) loads only when a command runs one. `metala --help` stays instant.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/golden.js';

describe('CLI start-up', () => {
  it('importing the CLI program loads no @tensorflow module; --help exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-startup-'));
    // An ESM resolve hook that reports every @tensorflow module and who imported it.
    const hook = join(dir, 'hook.mjs');
    writeFileSync(hook, "export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('@tensorflow')) process.stderr.write(`TF ${r.url} from ${c.parentURL}\\n`); return r; }\n");
    const program = pathToFileURL(resolve(REPO, 'dist/src/cli/program.js')).href;
    const r = spawnSync(process.execPath, ['--no-warnings', '--experimental-loader', pathToFileURL(hook).href, '-e', `import(${JSON.stringify(program)}).then((m) => m.buildProgram())`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/^TF /m);
    const help = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: metala/);
  });
});
