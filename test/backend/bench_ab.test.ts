// `metala bench --fused-off` (an A/B of the fused webgpu kernels from one invocation): each case runs
// once with every fused kernel and once more, in its own process, with the named families left out;
// the kernel counts of --profile show the families really were out. Runs on lavapipe (CI), skipped
// where there is none; bad input is checked everywhere.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO } from '../helpers/golden.js';
import { hasLavapipe, LAVAPIPE } from '../helpers/webgpu.js';
import type { BenchResult } from '../../src/bench/run.js';


function bench(args: string[]): { code: number; out: string; err: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, VK_DRIVER_FILES: LAVAPIPE };
  delete env['METALA_NO_FUSED'];
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'bench', ...args], { encoding: 'utf8', env });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('bench --fused-off', () => {
  it('refuses unknown families and backends without fused kernels, in one line with exit 2', () => {
    const bad = bench(['--backends', 'webgpu', '--fused-off', 'conv,fast']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^error: METALA_NO_FUSED: unknown kernel family 'fast'\./m);
    const wasm = bench(['--backends', 'wasm', '--fused-off', 'conv']);
    expect(wasm.code).toBe(2);
    expect(wasm.err).toMatch(/^error: bench --fused-off: the fused kernels are webgpu kernels; add webgpu to --backends$/m);
  });

  it.skipIf(!hasLavapipe)('writes each case with and without the named families, and the second launches none of their kernels', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-ab-'));
    try {
      const out = join(dir, 'ab.json');
      const r = bench(['--backends', 'webgpu', '--mixers', 'metala', '--seq-lens', '16', '--batch', '2', '--d-model', '16', '--layers', '1', '--heads', '2', '--vocab', '32',
        '--steps', '1', '--warmup', '1', '--profile', '--fused-off', 'conv,norm', '--out', out]);
      expect(r.code).toBe(0);
      const file = JSON.parse(readFileSync(out, 'utf8')) as { results: BenchResult[] };
      expect(file.results.map((x) => [x.mixer.name, x.backend, x.fused_off])).toEqual([['metala', 'webgpu', undefined], ['metala', 'webgpu', ['conv', 'norm']]]);
      const [on, off] = file.results as [BenchResult, BenchResult];
      for (const x of [on, off]) expect(x.train_tokens_per_s).toBeGreaterThan(0);
      expect(on.kernel_calls?.['MetalaCausalConvFwd']).toBeGreaterThan(0);
      expect(on.kernel_calls?.['MetalaNormFwd']).toBeGreaterThan(0);
      expect(off.kernel_calls?.['MetalaCausalConvFwd']).toBeUndefined();
      expect(off.kernel_calls?.['MetalaNormFwd']).toBeUndefined();
      expect(off.kernel_calls?.['MetalaGlaRecurrentFwd']).toBeGreaterThan(0); // gla was not named: still fused
      expect(r.out).toContain('| webgpu | metala (fused off: conv, norm) | 16 |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench --adapter', () => {
  it.skipIf(!hasLavapipe)('describes the adapter with and without allow_unsafe_apis, and writes it to --out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metala-adapter-'));
    try {
      const out = join(dir, 'adapter.json');
      const r = bench(['--adapter', '--out', out]);
      expect(r.code).toBe(0);
      const file = JSON.parse(readFileSync(out, 'utf8')) as { adapters: { flags: string[]; name: string; features: string[]; subgroup_matrix_configs?: unknown[]; limits: Record<string, number> }[] };
      expect(JSON.parse(r.out)).toEqual(file);
      expect(file.adapters.map((a) => a.flags)).toEqual([[], ['enable-dawn-features=allow_unsafe_apis']]);
      for (const a of file.adapters) {
        expect(a.name).toMatch(/llvmpipe/);
        expect(a.features).toContain('timestamp-query');
        expect(a.subgroup_matrix_configs).toEqual([]); // lavapipe has no matrix units
        expect(a.limits['maxComputeWorkgroupsPerDimension']).toBe(65535);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
