// Bad command-line input through bin/metala.js: every numeric flag, --set paths that name object
// prototypes, and experiment / eval names that would leave --results. Each gives one line on
// stderr, exit code 2, no stack trace, and writes nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/golden.js';

function metala(args: string[], cwd: string): { code: number; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, METALA_NO_GPU: '1' } });
  return { code: r.status ?? -1, err: r.stderr };
}

const smoke = resolve(REPO, 'configs/smoke/mqar.yaml');

const cases: [string, string[], RegExp][] = [
  ['bench --batch abc', ['bench', '--batch', 'abc'], /^error: option '--batch <n>' argument 'abc' is invalid\. expected a positive integer/],
  ['bench --batch -3', ['bench', '--batch', '-3'], /argument '-3' is invalid/],
  ['bench --steps 0', ['bench', '--steps', '0'], /^error: option '--steps <n>' argument '0' is invalid/],
  ['bench --seq-lens 128,x', ['bench', '--seq-lens', '128,x'], /^error: option '--seq-lens <list>' argument '128,x' is invalid/],
  ['bench --warmup -1', ['bench', '--warmup', '-1'], /expected an integer ≥ 0/],
  ['bench --d-model 1.5', ['bench', '--d-model', '1.5'], /argument '1.5' is invalid/],
  ['bench --matmul 12x0x3', ['bench', '--backends', 'wasm', '--matmul', '12x0x3'], /^error: bench --matmul: '12x0x3': every size must be a positive integer/],
  ['bench --matmul-tiles alone', ['bench', '--backends', 'wasm', '--matmul-tiles', 'large'], /^error: bench --matmul-tiles: it sweeps the tiles of --matmul products/],
  ['bench --matmul-tiles huge', ['bench', '--backends', 'wasm', '--matmul', '64x64x64', '--matmul-tiles', 'huge'], /^error: bench --matmul-tiles: unknown tile 'huge'\. Use some of large, /],
  ['bench --reference missing', ['bench', '--backends', 'wasm', '--reference', 'missing.jsonl'], /^error: bench --reference: missing\.jsonl: ENOENT/],
  ['train --max-minutes abc', ['train', smoke, '--max-minutes', 'abc', '--dry-run'], /^error: option '--max-minutes <m>' argument 'abc' is invalid\. expected a number > 0/],
  ['train --max-minutes 0', ['train', smoke, '--max-minutes', '0', '--dry-run'], /argument '0' is invalid/],
  ['train --jobs x', ['train', smoke, '--jobs', 'x', '--dry-run'], /^error: option '--jobs <n>' argument 'x' is invalid/],
  ['train --set __proto__', ['train', smoke, '--set', '__proto__.polluted=1', '--dry-run'], /^error: .*mqar\.yaml: --set: '__proto__\.polluted' names '__proto__', which is not a config key/],
  ['train --set constructor', ['train', smoke, '--set', 'train.constructor.prototype.x=1', '--dry-run'], /names 'constructor', which is not a config key/],
  ['train --set a..b', ['train', smoke, '--set', 'train..lr=1', '--dry-run'], /has an empty segment/],
  ['train name=../x', ['train', smoke, '--set', 'name=../../escape', '--dry-run'], /^error: .*mqar\.yaml: name: must stay inside --results/],
  ['train name=/abs', ['train', smoke, '--set', 'name=/tmp/escape', '--dry-run'], /name: must stay inside --results/],
  ['eval --name ../x', ['eval', '--checkpoint', 'x', '--name', '../escape'], /^error: option '--name <name>' argument '\.\.\/escape' is invalid/],
  ['eval --limit 0', ['eval', '--checkpoint', 'x', '--limit', '0'], /^error: option '--limit <n>' argument '0' is invalid/],
  ['bench --backends nope', ['bench', '--backends', 'nope'], /^error: option '--backends <list>' argument 'nope' is invalid\. expected a comma-separated list of wasm, cpu, webgpu, tensorflow/],
  ['validate a folder', ['validate', resolve(REPO, 'configs')], /^error: .*configs: \(top level\): this is a folder, not a YAML file/],
  ['train a folder', ['train', resolve(REPO, 'configs'), '--dry-run'], /^error: .*configs: \(top level\): this is a folder, not a YAML file/],
  ['validate batch_size 1e12', ['validate', smoke, '--set', 'train.batch_size=1000000000000'], /^error: .*mqar\.yaml: train\.batch_size: a training step's activations \[1000000000000, 64, 256\] would take 6\.1e\+7 GiB, more than any backend holds in one tensor \(4 GiB\)\./],
  ['mixer named constructor', ['validate', smoke, '--set', 'model.mixer.name=constructor'], /^error: .*mqar\.yaml: model\.mixer\.name: unknown mixer 'constructor'\. Available: /],
  ['task named toString', ['validate', smoke, '--set', 'task.name=toString'], /^error: .*mqar\.yaml: task\.name: unknown task 'toString'/],
  ['backbone named hasOwnProperty', ['validate', smoke, '--set', 'model.backbone=hasOwnProperty'], /^error: .*mqar\.yaml: model\.backbone: unknown backbone 'hasOwnProperty'/],
  ['inspect --tokens abc', ['inspect', 'x', '--tokens', 'abc'], /^error: option '--tokens <n>' argument 'abc' is invalid/],
];

describe('bad command-line input', () => {
  for (const [name, args, pattern] of cases) {
    it(`${name}: one line, exit 2, nothing written`, () => {
      const cwd = mkdtempSync(join(tmpdir(), 'metala-flags-'));
      const r = metala(args, cwd);
      expect(r.code, r.err).toBe(2);
      const lines = r.err.trim().split('\n');
      expect(lines.length, r.err).toBe(1);
      expect(lines[0]).toMatch(pattern);
      expect(r.err).not.toMatch(/    at |This is a bug/);
      expect(readdirSync(cwd)).toEqual([]);
    });
  }
});
