// `metala bench --stack`: each case also trains as a stack of R models (train.stack), its tokens/s
// summed over the replicas, in the same invocation as the one-model case; a stack whose logits are
// over METALA_HEAD_LOGITS_MAX_BYTES infers through the chunked head; a mixer that cannot stack is one
// line with exit 2.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO } from '../helpers/golden.js';
import type { BenchResult } from '../../src/bench/run.js';

function bench(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'bench', '--backends', 'wasm', ...args], { encoding: 'utf8', env: { ...process.env, METALA_NO_GPU: '1', ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('bench --stack', () => {
  it('runs every case as one model and as a stack, in one file (the stack\'s logits over the limit)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-bench-stack-'));
    try {
      const out = join(dir, 'b.json');
      // Logits: one model 2·16 rows × 32 classes = 4 KiB, within 8 KiB (whole); the stack 12 KiB (head rows).
      const r = bench(['--mixers', 'metala', '--seq-lens', '16', '--batch', '2', '--d-model', '16', '--layers', '1', '--heads', '2', '--vocab', '32', '--steps', '1', '--warmup', '1', '--stack', '1,3', '--out', out], { METALA_HEAD_LOGITS_MAX_BYTES: '8192' });
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const file = JSON.parse(readFileSync(out, 'utf8')) as { results: BenchResult[] };
      expect(file.results.map((x) => [x.mixer.name, x.stack])).toEqual([['metala', undefined], ['metala', 3]]);
      const [one, three] = file.results as [BenchResult, BenchResult];
      expect(three.params).toBe(one.params); // per model
      for (const x of [one, three]) {
        expect(x.infer_error).toBeUndefined();
        expect(x.train_tokens_per_s).toBeGreaterThan(0);
        expect(x.infer_tokens_per_s).toBeGreaterThan(0);
      }
      expect(r.out).toContain('| wasm | metala ×3 stacked | 16 |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a mixer that cannot stack: one line, exit 2', () => {
    const r = bench(['--mixers', 'hgrn', '--seq-lens', '16', '--batch', '2', '--d-model', '16', '--layers', '1', '--steps', '1', '--warmup', '0', '--stack', '2']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('error: bench --stack 2: mixer hgrn does not support stacked replicas yet. Leave it out of --mixers or use --stack 1');
  });
});
