// End to end through bin/metala.js (needs `npm run build`): exit codes, files, one-line errors.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO, GOLDEN } from '../helpers/golden.js';
import { tinyConfig } from '../helpers/tiny.js';

function metala(args: string[], cwd = REPO): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, METALA_NO_GPU: '1' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('metala CLI', () => {
  it('train → report: exit 0, results files, then the MQAR table', () => {
    const { dir, file } = tinyConfig();
    const results = join(dir, 'results');
    const t = metala(['train', file, '--backend', 'cpu', '--results', results]);
    expect(t.err).not.toMatch(/error/);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/finished best accuracy \d\.\d{4}/);
    const runs = readdirSync(join(results, 'tiny'));
    expect(runs.length).toBe(1);
    for (const f of ['config.json', 'summary.json', 'metrics.jsonl', 'checkpoint/model.safetensors', 'checkpoint/config.json']) {
      expect(existsSync(join(results, 'tiny', runs[0]!, f))).toBe(true);
    }
    const again = metala(['train', file, '--backend', 'cpu', '--results', results]);
    expect(again.out).toMatch(/skipped/);
    const r = metala(['report', '--results', results]);
    expect(r.code).toBe(0);
    const md = readFileSync(join(results, 'tables', 'mqar.md'), 'utf8');
    expect(md).toMatch(/metala/);
    expect(md).toMatch(/T=16/);
    expect(existsSync(join(results, 'tables', 'mqar.csv'))).toBe(true);
  });

  it('bad inputs: one line on stderr, exit 2, nothing written', () => {
    const { dir, file } = tinyConfig();
    const results = join(dir, 'results');
    const cases: [string[], RegExp][] = [
      [['train', join(dir, 'missing.yaml')], /missing\.yaml: .*not found/],
      [['train', file, '--set', 'model.mixer.name=metla'], /model\.mixer\.name: unknown mixer 'metla'\. Did you mean: metala\?/],
      [['train', file, '--set', 'train.batch_size=-1'], /train\.batch_size: must be >0, got -1/],
      [['train', file, '--set', 'train.epoch=3'], /train\.epoch: unknown key 'epoch'\. Did you mean 'epochs'\?/],
      [['train', file, '--backend', 'nope'], /argument 'nope' is invalid/],
      [['list', 'things'], /'things' is invalid/],
    ];
    for (const [args, re] of cases) {
      const r = metala([...args, ...(args[0] === 'train' ? ['--results', results] : [])]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')[0]).toMatch(re);
      expect(r.err).not.toMatch(/at .*\.js:\d+/); // no stack trace
    }
    expect(existsSync(results)).toBe(false);
    writeFileSync(join(dir, 'broken.yaml'), 'task: [1, 2\n');
    const y = metala(['train', join(dir, 'broken.yaml')]);
    expect(y.code).toBe(2);
    expect(y.err).toMatch(/broken\.yaml: \(top level\): malformed YAML at line/);
  });

  it('list prints every registry', () => {
    const m = metala(['list', 'mixers']);
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/\| metala \| linformer \| xW_Q \| 1 − α_t \|/);
    expect(metala(['list', 'tasks']).out).toMatch(/\| mqar \|/);
    expect(metala(['list', 'tables']).out).toMatch(/\| fig3_mqar \|/);
  });

  it('a checkpoint folder with a missing or misshapen tensor is a one-line error', async () => {
    const { initBackend, loadCheckpoint, InputError } = await import('../../src/index.js');
    await initBackend('cpu');
    const { dir } = tinyConfig();
    const { readSafetensors, encodeSafetensors } = await import('../../src/checkpoint/safetensors.js');
    const src = join(GOLDEN, 'metala-tiny');
    const st = await readSafetensors(join(src, 'model.safetensors'));
    const make = (name: string, edit: (m: Map<string, { shape: number[]; data: Float32Array }>) => void): string => {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      copyFileSync(join(src, 'config.json'), join(d, 'config.json'));
      const m = new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
      edit(m);
      writeFileSync(join(d, 'model.safetensors'), encodeSafetensors(m));
      return d;
    };
    const missing = make('missing', (m) => m.delete('model.layers.1.token_mixer.v_proj.weight'));
    await expect(loadCheckpoint(missing)).rejects.toThrow(/tensor 'model\.layers\.1\.token_mixer\.v_proj\.weight' is missing \(expected shape \[64,64\]\)/);
    const wrong = make('wrong', (m) => m.set('model.layers.0.token_mixer.q_proj.weight', { shape: [64, 32], data: new Float32Array(2048) }));
    await expect(loadCheckpoint(wrong)).rejects.toThrow(/q_proj\.weight' has shape \[64,32\], expected \[32,64\]/);
    await expect(loadCheckpoint(join(dir, 'nowhere'))).rejects.toBeInstanceOf(InputError);
    // Through the CLI: one line, exit 2.
    for (const [d, re] of [[missing, /v_proj\.weight' is missing/], [wrong, /has shape \[64,32\]/], [join(dir, 'nowhere'), /checkpoint folder not found/]] as const) {
      const r = metala(['inspect', d, '--backend', 'cpu']);
      expect(r.code).toBe(2);
      expect(r.err.trim()).toMatch(re);
      expect(r.err.trim().split('\n').length).toBe(1);
    }
    const ok = metala(['inspect', src, '--backend', 'cpu']);
    expect(ok.code).toBe(0);
    const err = Number(/max abs difference ([0-9.e+-]+)/.exec(ok.out)![1]);
    expect(err).toBeLessThan(1e-4);
  });
});
