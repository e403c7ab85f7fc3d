// `metala golden` on the fixtures of ../shared/golden/seed/ (made with the authors' PyTorch code,
// float64): every ported layer's output, input gradient and parameter gradients within 1e-4 (max
// relative, per tensor) on cpu and wasm, parameter counts equal to the fixture's; a too-tight --tol
// fails with exit 1; a malformed fixture is one line, exit 2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GOLDEN, REPO } from '../helpers/golden.js';

const SEED = resolve(GOLDEN, 'seed');
const PORTED = ['zeros_causal', 'zeros_causal_first_layer', 'zeros_noncausal'];

function golden(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'golden', ...args], { encoding: 'utf8', env: { ...process.env, METALA_NO_GPU: '1' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('metala golden', () => {
  it.each(['cpu', 'wasm'])('ported fixtures pass on %s: output, input and every parameter gradient within 1e-4', (backend) => {
    for (const name of PORTED) {
      const r = golden([join(SEED, `${name}.json`), '--backend', backend]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const lines = r.out.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^ok +${name}\\.json: zeros, (causal|non-causal), 21256 parameters \\(= fixture\\)$`));
      // One row per compared tensor: output, input gradient, and the 14 parameter gradients.
      const fx = JSON.parse(readFileSync(join(SEED, `${name}.json`), 'utf8')) as { params: Record<string, unknown> };
      const rows = lines.filter((l) => /max rel/.test(l));
      expect(rows).toHaveLength(2 + Object.keys(fx.params).length);
      for (const row of rows) expect(Number(/max rel (\S+)/.exec(row)![1])).toBeLessThan(1e-4);
      expect(lines.at(-1)).toBe(`1 fixture(s) on ${backend}: 1 within 0.0001, 0 not`);
    }
  });

  it('a folder runs every fixture; classes without a port are reported as failures (exit 1)', () => {
    const r = golden([SEED, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    for (const name of PORTED) expect(r.out).toMatch(new RegExp(`^ok +${name}\\.json`, 'm'));
    expect(r.out).toMatch(/^FAIL fem_softmax\.json: class: 'FreeEnergyMixer' has no port here/m);
    expect(r.out.trim().split('\n').at(-1)).toMatch(/^14 fixture\(s\) on cpu: 3 within 0\.0001, 11 not$/);
  });

  it('a tolerance below float32 precision fails with exit 1 and marks the rows', () => {
    const r = golden([join(SEED, 'zeros_causal.json'), '--backend', 'cpu', '--tol', '1e-9']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL zeros_causal\.json/m);
    expect(r.out).toMatch(/> tol/);
  });

  it('a malformed fixture is one line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-golden-'));
    const fx = JSON.parse(readFileSync(join(SEED, 'zeros_causal.json'), 'utf8')) as Record<string, any>;
    const cases: [string, (f: Record<string, any>) => void, RegExp][] = [
      ['missing parameter', (f) => delete f.params['u.weight'], /missing-param\.json: params: 'u\.weight' is missing \(zeros needs it, shape \[64,64\]\)/],
      ['wrong shape', (f) => (f.params['gate.weight'].shape = [64, 6]), /wrong-shape\.json: params\.gate\.weight\.shape: \[64,6\], expected \[6,64\]/],
      ['data length', (f) => f.input.data.pop(), /data-length\.json: input: data length does not equal the product of shape/],
      ['no grads', (f) => delete f.grads, /no-grads\.json: grads: /],
    ];
    for (const [label, edit, pattern] of cases) {
      const f = structuredClone(fx);
      edit(f);
      const file = join(dir, `${label.replace(/ /g, '-').replace('parameter', 'param')}.json`);
      writeFileSync(file, JSON.stringify(f));
      const r = golden([file, '--backend', 'cpu']);
      expect(r.code, label).toBe(2);
      expect(r.err.trim().split('\n'), label).toEqual([expect.stringMatching(pattern)]);
      expect(r.err).not.toMatch(/    at /);
    }
    writeFileSync(join(dir, 'not-json.json'), '{"name": ');
    expect(golden([join(dir, 'not-json.json')]).err).toMatch(/^error: .*not-json\.json: not valid JSON/);
    expect(golden([join(dir, 'nope.json')]).code).toBe(2);
    expect(golden([join(SEED, 'zeros_causal.json'), '--tol', 'abc']).code).toBe(2);
  });
});
