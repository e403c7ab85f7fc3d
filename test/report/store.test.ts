// Results store (src/results/store.ts): atomic writes, JSONL, and scanning run folders that
// skips malformed ones instead of crashing.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendJsonl, atomicWriteFile, listRuns, readJsonl, readRun, runDir, scanRuns, writeJson } from '../../src/results/store.js';
import { InputError } from '../../src/util/errors.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'metala-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const config = (name = 'mqar') => ({ experiment: 'e', run_id: 'r', task: { name, input_seq_len: 64 }, model: { d_model: 64, mixer: { name: 'gla' } }, train: { lr: 1e-3 }, seed: 1 });
const summary = { run_id: 'r', experiment: 'e', status: 'finished', best: { accuracy: 0.5, step: 10 }, metric: 'accuracy', steps: 10 };

async function makeRun(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
}

describe('atomicWriteFile', () => {
  it('writes the content, creates folders, replaces old content and leaves no temp file', async () => {
    const p = join(root, 'a', 'b', 'summary.json');
    await atomicWriteFile(p, 'first');
    await atomicWriteFile(p, 'second');
    expect(await readFile(p, 'utf8')).toBe('second');
    expect(await readdir(join(root, 'a', 'b'))).toEqual(['summary.json']);
    await atomicWriteFile(p, new Uint8Array([104, 105]));
    expect(await readFile(p, 'utf8')).toBe('hi');
  });

  it('writes pretty JSON', async () => {
    const p = join(root, 'x.json');
    await writeJson(p, { a: 1 });
    expect(await readFile(p, 'utf8')).toBe('{\n  "a": 1\n}\n');
  });

  it('cleans up its temp file when the rename fails', async () => {
    // Renaming a file over a non-empty folder fails.
    const target = join(root, 'dir');
    await mkdir(join(target, 'inner'), { recursive: true });
    await expect(atomicWriteFile(target, 'x')).rejects.toThrow();
    expect((await readdir(root)).sort()).toEqual(['dir']);
  });
});

describe('appendJsonl / readJsonl', () => {
  it('appends lines and drops a torn last line', async () => {
    const p = join(root, 'r', 'metrics.jsonl');
    await appendJsonl(p, { step: 1, loss: 2.5 });
    await appendJsonl(p, { step: 2, loss: 2.0 });
    expect(await readFile(p, 'utf8')).toBe('{"step":1,"loss":2.5}\n{"step":2,"loss":2}\n');
    await writeFile(p, '{"step":1}\n{"step":2}\n{"ste', { flag: 'w' });
    expect(await readJsonl(p)).toEqual([{ step: 1 }, { step: 2 }]);
    await writeFile(p, '{"step":1}\nnope\n{"step":2}\n');
    await expect(readJsonl(p)).rejects.toThrow(/metrics\.jsonl:2: not valid JSON/);
  });
});

describe('scanRuns / listRuns / readRun', () => {
  it('reads good runs at any depth and skips malformed ones with a reason', async () => {
    const good1 = runDir(root, 'mqar/fig3', 'aaa');
    const good2 = runDir(root, 'other', 'bbb');
    await makeRun(good1, { 'config.json': JSON.stringify(config()), 'summary.json': JSON.stringify(summary) });
    await makeRun(good2, { 'config.json': JSON.stringify(config('lm')), 'summary.json': JSON.stringify({ ...summary, status: 'running' }) });
    // A checkpoint folder holding a config.json is not a run.
    await makeRun(join(good1, 'checkpoint'), { 'config.json': '{}' });
    await makeRun(join(root, 'mqar/fig3/no_summary'), { 'config.json': JSON.stringify(config()) });
    await makeRun(join(root, 'mqar/fig3/bad_json'), { 'config.json': '{', 'summary.json': JSON.stringify(summary) });
    await makeRun(join(root, 'mqar/fig3/bad_status'), { 'config.json': JSON.stringify(config()), 'summary.json': JSON.stringify({ ...summary, status: 'done' }) });
    await makeRun(join(root, 'mqar/fig3/no_task'), { 'config.json': JSON.stringify({ model: {} }), 'summary.json': JSON.stringify(summary) });
    await makeRun(join(root, 'tables'), { 'mqar.md': '# x' });

    const { runs, skipped } = await scanRuns(root);
    expect(runs.map((r) => r.dir)).toEqual([good1, good2]);
    expect(runs[0]!.config.model?.mixer?.name).toBe('gla');
    expect(runs[0]!.summary.best?.accuracy).toBe(0.5);
    expect(runs[1]!.summary.status).toBe('running');
    const reasons = Object.fromEntries(skipped.map((s) => [s.dir.slice(root.length + 1), s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['mqar/fig3/bad_json', 'mqar/fig3/bad_status', 'mqar/fig3/no_summary', 'mqar/fig3/no_task']);
    expect(reasons['mqar/fig3/no_summary']).toMatch(/has config\.json but no summary\.json/);
    expect(reasons['mqar/fig3/bad_json']).toMatch(/config\.json: not valid JSON/);
    expect(reasons['mqar/fig3/bad_status']).toMatch(/summary\.json: status:/);
    expect(reasons['mqar/fig3/no_task']).toMatch(/config\.json: task:/);
    expect((await listRuns(root)).length).toBe(2);
  });

  it('accepts null where writers have nothing yet (no eval, no git)', async () => {
    const d = runDir(root, 'e', 'r');
    const s = { status: 'running', best: null, final: null, git_commit: null, device: null, steps: 0 };
    await makeRun(d, { 'config.json': JSON.stringify({ ...config(), variant: null }), 'summary.json': JSON.stringify(s) });
    const run = await readRun(d);
    expect(run.summary.best).toBeNull();
    expect(run.config.variant).toBeNull();
  });

  it('returns nothing for a missing results folder', async () => {
    expect(await scanRuns(join(root, 'nope'))).toEqual({ runs: [], skipped: [] });
  });

  it('readRun throws an InputError naming the file', async () => {
    const d = join(root, 'x');
    await makeRun(d, { 'config.json': JSON.stringify(config()) });
    await expect(readRun(d)).rejects.toThrow(InputError);
    await expect(readRun(d)).rejects.toThrow(/summary\.json: cannot read \(ENOENT\)/);
  });
});
