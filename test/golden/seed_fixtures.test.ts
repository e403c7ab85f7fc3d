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
/** Every fixture in the folder and the mixer that ports its class. */
const FIXTURES: [string, string][] = [
  ['fem_gla', 'fem'], ['fem_linear', 'fem'], ['fem_mamba', 'fem'], ['fem_rnn_softmax', 'fem'], ['fem_softmax', 'fem'],
  ['fem_softmax_lse_beta1', 'fem'], ['fem_softmax_noncausal', 'fem'], ['fem_softmax_plain', 'fem'],
  ['inline_deit', 'inline'], ['inline_swin_identity', 'inline'], ['inline_swin_relu', 'inline'],
  ['zeros_causal', 'zeros'], ['zeros_causal_first_layer', 'zeros'], ['zeros_noncausal', 'zeros'],
];

function golden(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'golden', ...args], { encoding: 'utf8', env: { ...process.env, METALA_NO_GPU: '1' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('metala golden', () => {
  it.each(['cpu', 'wasm'])('the folder passes on %s: every fixture\'s output, input and parameter gradients within 1e-4, parameter counts equal', (backend) => {
    const r = golden([SEED, '--backend', backend]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    // The report is one block per fixture (header, then one row per compared tensor), sorted by file name.
    const blocks = r.out.trim().split('\n').slice(0, -1).join('\n').split(/\n(?=\S)/);
    expect(blocks.map((b) => /^\S+ +(\S+)\.json/.exec(b)?.[1])).toEqual(FIXTURES.map(([name]) => name));
    for (const [[name, mixer], block] of FIXTURES.map((f, i) => [f, blocks[i]!] as const)) {
      const fx = JSON.parse(readFileSync(join(SEED, `${name}.json`), 'utf8')) as { params: Record<string, unknown>; param_count: number };
      const lines = block.split('\n');
      // InLine is the authors' non-causal (vision) layer.
      const form = /noncausal|^inline/.test(name) ? 'non-causal' : 'causal';
      expect(lines[0]).toBe(`ok   ${name}.json: ${mixer}, ${form}, ${fx.param_count} parameters (= fixture)`);
      // Output, input gradient, and one row per parameter of the fixture.
      const rows = lines.filter((l) => /max rel/.test(l));
      expect(rows, name).toHaveLength(2 + Object.keys(fx.params).length);
      for (const row of rows) expect(Number(/max rel (\S+)/.exec(row)![1]), `${name}: ${row}`).toBeLessThan(1e-4);
    }
    expect(r.out.trim().split('\n').at(-1)).toBe(`14 fixture(s) on ${backend}: 14 within 0.0001, 0 not`);
  });

  it('a fixture of a class without a port fails (exit 1) and names the class', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-golden-'));
    const fx = JSON.parse(readFileSync(join(SEED, 'zeros_causal.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ ...fx, class: 'SomethingElse' }));
    const r = golden([dir, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL other\.json: class: 'SomethingElse' has no port here/m);
    expect(r.out.trim().split('\n').at(-1)).toBe('1 fixture(s) on cpu: 0 within 0.0001, 1 not');
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
