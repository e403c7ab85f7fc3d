// The README stays true (style-models.md §8.8): its two set-up commands come first, and every
// command, config path and table id it names exists.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { REPO } from './helpers/golden.js';
import { buildProgram } from '../src/cli/program.js';
import { TABLES } from '../src/report/registry.js';
import { loadExperiment } from '../src/config/load.js';
import { renderReadmeFigures } from '../src/tools/readme_figures.js';

const readme = readFileSync(resolve(REPO, 'README.md'), 'utf8');

describe('README', () => {
  it('opens with exactly the two set-up commands: install + smoke MQAR on CPU, then the tests', () => {
    const first = /```sh\n([\s\S]*?)```/.exec(readme);
    expect(first).not.toBeNull();
    expect(readme.indexOf('```sh')).toBeLessThan(200);
    const lines = first![1]!.trim().split('\n').map((l) => l.replace(/#.*$/, '').trim());
    expect(lines).toEqual(['npm ci && npx metala train configs/smoke/mqar.yaml', 'npm test']);
    const pkg = JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8'));
    expect(pkg.scripts.test).toMatch(/vitest run/);
    expect(pkg.scripts.prepare).toMatch(/tsc/);
    expect(pkg.bin.metala).toBe('bin/metala.js');
  });

  it('every metala command it names is a real command', () => {
    const known = new Set(buildProgram().commands.map((c) => c.name()));
    const used = [...readme.matchAll(/\bmetala (\w+)/g)].map((m) => m[1]!).filter((w) => /^[a-z]+$/.test(w) && w !== 'reproduces' && w !== 'does');
    expect(used.length).toBeGreaterThan(5);
    for (const cmd of new Set(used)) expect(known.has(cmd), `metala ${cmd}`).toBe(true);
  });

  it('every configs/ path exists and validates; every src/ and test/ path exists', () => {
    const configs = [...readme.matchAll(/`?(configs\/[\w./-]+\.ya?ml)`?/g)].map((m) => m[1]!);
    expect(configs.length).toBeGreaterThan(2);
    for (const c of new Set(configs)) {
      expect(existsSync(resolve(REPO, c)), c).toBe(true);
      expect(loadExperiment(resolve(REPO, c), [], { variants: true }).runs.length).toBeGreaterThan(0);
    }
    const paths = [...readme.matchAll(/`((?:src|test|bin|configs|datasets|results)\/[\w./-]*\w)`/g)].map((m) => m[1]!);
    // What `metala report` writes (results/tables/, results/figures/) exists only after it ran.
    const reportOutput = (p: string) => /^results\/(tables|figures)\//.test(p);
    for (const p of new Set(paths)) if ((!p.includes('<') && !/\*|\.(csv|md)$/.test(p) && !reportOutput(p)) || p.endsWith('README.md')) expect(existsSync(resolve(REPO, p)), p).toBe(true);
  });

  it("report's outputs are not tracked, so a clone stays clean; the README's figures are current snapshots of the committed runs", async () => {
    const ignored = spawnSync('git', ['-C', REPO, 'check-ignore', 'results/tables/mqar.md', 'results/figures/fig3_mqar.svg', 'results/figures/curves/x.svg'], { encoding: 'utf8' });
    expect(ignored.stdout.trim().split('\n')).toHaveLength(3);
    expect(spawnSync('git', ['-C', REPO, 'ls-files', 'results/tables', 'results/figures'], { encoding: 'utf8' }).stdout).toBe('');
    const images = [...readme.matchAll(/!\[[^\]]*\]\((results\/[^)]+\.svg)\)/g)].map((m) => m[1]!);
    expect(images.length).toBeGreaterThan(0);
    for (const img of images) expect(img, 'README images are snapshots in results/readme/').toMatch(/^results\/readme\//);
    const out = mkdtempSync(join(tmpdir(), 'metala-readme-'));
    const files = await renderReadmeFigures(REPO, out);
    for (const img of images) expect(files.map((f) => `results/readme/${basename(f)}`), img).toContain(img);
    for (const f of files) expect(readFileSync(f, 'utf8'), `${basename(f)} is stale: npm run build && npm run readme-figures`).toBe(readFileSync(resolve(REPO, 'results/readme', basename(f)), 'utf8'));
  });

  it('the layout lists every folder of src/ and every top-level folder, and names only real ones', () => {
    const block = /## Layout\n\n```\n([\s\S]*?)```/.exec(readme)![1]!;
    const listed = new Set(block.split('\n').map((l) => l.split(/\s+/)[0]!).filter((w) => w.endsWith('/')));
    const src = readdirSync(resolve(REPO, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `src/${d.name}/`);
    for (const d of src) expect(listed.has(d), `${d} is missing from the README's layout`).toBe(true);
    for (const d of ['configs/', 'datasets/', 'results/', 'test/']) expect(listed.has(d), d).toBe(true);
    for (const d of listed) expect(existsSync(resolve(REPO, d)), `${d} listed but absent`).toBe(true);
  });

  it('every table id in the paper map is registered', () => {
    const ids = [...readme.matchAll(/`((?:fig|tab)\w+)`/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThan(1);
    for (const id of ids) expect(Object.keys(TABLES), id).toContain(id);
  });
});
