// `metala data`: generates a set into a folder, recognises it when present, and refuses the wrong
// verb or a missing fetched set with a one-line error naming the command to run (exit code 2).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/program.js';

function capture(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  return { out: () => out, err: () => err };
}

afterEach(() => vi.restoreAllMocks());

describe('metala data', () => {
  it('generates ListOps in the official layout, then reports it present', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'metala-data-')), 'lo');
    const io = capture();
    expect(await main(['node', 'metala', 'data', 'lra-listops', '--count', '100', '--seed', '4', '--dir', dir])).toBe(0);
    expect(io.out()).toContain('ListOps: 96 / 2 / 2 examples');
    for (const f of ['basic_train.tsv', 'basic_val.tsv', 'basic_test.tsv']) expect(existsSync(join(dir, f))).toBe(true);
    expect(await main(['node', 'metala', 'data', 'lra-listops', '--dir', dir])).toBe(0);
    expect(io.out()).toContain('(present; --force remakes it)');
  });

  it('lists the data sets and answers wrong verbs and missing sets with the command to run', async () => {
    const io = capture();
    expect(await main(['node', 'metala', 'data'])).toBe(0);
    expect(io.out()).toMatch(/lra-pathfinder32 +generated/);
    expect(io.out()).toMatch(/lra-text +fetched/);
    expect(await main(['node', 'metala', 'data', 'fetch', 'lra-listops'])).toBe(2);
    expect(io.err()).toContain('error: lra-listops: is generated, not fetched. Make it with: metala data lra-listops');
    const empty = mkdtempSync(join(tmpdir(), 'metala-data-'));
    expect(await main(['node', 'metala', 'data', 'lra-image', '--dir', empty])).toBe(2);
    expect(io.err()).toContain('Download it with: metala data fetch lra-image');
    expect(await main(['node', 'metala', 'data', 'lra-listops', '--count', 'x', '--dir', empty])).toBe(2);
    expect(io.err()).toContain('--count: expected an integer ≥ 1');
  });
});
