// Fig. A2 efficiency table (src/report/efficiency.ts): rendered from `metala bench` files, one
// section per file, ratios against softmax only within a file, malformed files skipped.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runReport } from '../../src/report/report.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function record(mixer: string, T: number, tokS: number, gpuBytes: number, decode?: number[]): Record<string, unknown> {
  return {
    mixer: { name: mixer, num_heads: 4 }, d_model: 512, n_layers: 4, batch: 1, seq_len: T, vocab_size: 256,
    backend: 'webgpu', device: 'test gpu', params: 1000, train_step_ms: (T * 1000) / tokS, train_tokens_per_s: tokS,
    infer_tokens_per_s: 4 * tokS, peak_bytes: 2 * gpuBytes, gpu_bytes_allocated: gpuBytes,
    ...(decode !== undefined ? { decode: { tokens: 64, tokens_per_s: 100, state_floats: 10, live_bytes: decode.map((b, i) => ({ at: 16 << i, bytes: b })) } } : {}),
  };
}

describe('figA2_efficiency', () => {
  it('renders one section per bench file with softmax ratios, CSV rows and skipped files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-eff-'));
    dirs.push(root);
    await mkdir(join(root, 'bench'), { recursive: true });
    const MiB = 2 ** 20;
    await writeFile(join(root, 'bench', 'long.json'), JSON.stringify({
      created: '2026-01-02T00:00:00Z', settings: 'B=1 d=512',
      results: [record('metala', 2048, 10000, 100 * MiB, [5 * MiB, 5 * MiB, 5 * MiB]), record('metala', 4096, 10000, 200 * MiB), record('softmax', 2048, 5000, 400 * MiB, [5 * MiB, 6 * MiB, 8 * MiB])],
    }));
    await writeFile(join(root, 'bench', 'broken.json'), '{"results": 3}');
    const out = join(root, 'tables');
    const r = await runReport({ resultsDir: root, outDir: out, only: ['figA2_efficiency'] });
    expect(r.written.map((w) => w.id)).toEqual(['figA2_efficiency']);
    expect(r.skipped.map((s) => s.reason)).toEqual(['broken.json: not a metala bench file']);
    const md = await readFile(join(out, 'figA2_efficiency.md'), 'utf8');
    expect(md).toContain('## long.json');
    expect(md).toContain('| metala | 2048 | 10,000 | 204.8 | 40,000 | 100 | 100 | 5 @16 → 5 @64 |');
    expect(md).toContain('| softmax | 2048 | 5,000 | 409.6 | 20,000 | 400 | 100 | 5 @16 → 8 @64 |');
    // T=4096 has no softmax in this file: no ratio for it.
    expect(md).toContain('Against softmax: T=2048: metala/softmax train 2.00×, memory 0.25×.');
    // No field of this fixture holds a comma or a quote, so a plain split parses the CSV.
    const [header, ...lines] = (await readFile(join(out, 'figA2_efficiency.csv'), 'utf8')).trim().split('\n').map((l) => l.split(','));
    const rows = lines.map((l) => Object.fromEntries(header!.map((h, i) => [h, l[i]!])));
    expect(rows.map((x) => [x['mixer'], x['seq_len'], x['memory_source']])).toEqual([
      ['metala', '2048', 'gpu_pool'],
      ['metala', '4096', 'gpu_pool'],
      ['softmax', '2048', 'gpu_pool'],
    ]);
  });

  it('shows A/B rows of bench --fused-off beside their fused partner and pairs softmax ratios within a variant', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-eff-'));
    dirs.push(root);
    await mkdir(join(root, 'bench'), { recursive: true });
    const MiB = 2 ** 20;
    const off = (r: Record<string, unknown>) => ({ ...r, fused_off: ['conv', 'norm'] });
    await writeFile(join(root, 'bench', 'ab.json'), JSON.stringify({
      created: '2026-01-03T00:00:00Z', settings: 'B=32 d=256',
      results: [record('metala', 512, 20000, 100 * MiB), off(record('metala', 512, 10000, 150 * MiB)), record('softmax', 512, 40000, 200 * MiB), off(record('softmax', 512, 20000, 300 * MiB))],
    }));
    const out = join(root, 'tables');
    await runReport({ resultsDir: root, outDir: out, only: ['figA2_efficiency'] });
    const md = await readFile(join(out, 'figA2_efficiency.md'), 'utf8');
    const rows = md.split('\n').filter((l) => /^\| (metala|softmax)/.test(l)).map((l) => l.split(' | ').slice(0, 3).join(' | '));
    expect(rows).toEqual(['| metala | 512 | 20,000', '| metala (fused off: conv, norm) | 512 | 10,000', '| softmax | 512 | 40,000', '| softmax (fused off: conv, norm) | 512 | 20,000']);
    expect(md).toContain('Against softmax: T=512: metala/softmax train 0.50×, memory 0.50×; T=512: metala (fused off: conv, norm)/softmax train 0.50×, memory 0.50×.');
    const csv = await readFile(join(out, 'figA2_efficiency.csv'), 'utf8');
    expect(csv.split('\n')[0]).toContain('mixer,fused_off,d_model');
    expect(csv).toContain('metala,"conv,norm",');
  });

  it('shows the reference framework\'s tokens/s and our share of it, and bench --matmul files as a products section', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-eff-'));
    dirs.push(root);
    await mkdir(join(root, 'bench'), { recursive: true });
    const MiB = 2 ** 20;
    const ref = { framework: 'pytorch+fla', dtype: 'fp32', tokens_per_s: 40000, peak_gb: 2.3 };
    await writeFile(join(root, 'bench', 'a.json'), JSON.stringify({
      created: '2026-01-03T00:00:00Z', settings: 'B=32 d=256',
      results: [{ ...record('metala', 512, 10000, 100 * MiB), reference: ref }, record('softmax', 512, 20000, 100 * MiB)],
    }));
    const product = { spec: '4096x128x128:tb', batch: 1, M: 4096, N: 128, K: 128, transA: false, transB: true, backend: 'webgpu', device: 'test gpu', flop: 134217728, clock: 'gpu' };
    await writeFile(join(root, 'bench', 'm.json'), JSON.stringify({
      created: '2026-01-04T00:00:00Z', kind: 'matmul', settings: 'matrix products', results: [],
      matmul: [{ ...product, tfjs: { ms: 0.4, tflops: 0.34 }, tiled: { ms: 0.1, tflops: 1.34 }, reference: { framework: 'pytorch', dtype: 'fp32', ms: 0.02, tflops: 6.7 }, max_rel_diff: 1e-6 }],
    }));
    const out = join(root, 'tables');
    await runReport({ resultsDir: root, outDir: out, only: ['figA2_efficiency'] });
    const md = await readFile(join(out, 'figA2_efficiency.md'), 'utf8');
    expect(md).toContain('| 40,000 (pytorch+fla fp32) | 25% | 2.3 |');
    expect(md).toContain('| 4096x128x128:tb | 0.4 ms (0.34) | 0.1 ms (1.34) | 0.02 ms (6.7) pytorch fp32 | 20% | 1.0e-6 |');
    const csv = await readFile(join(out, 'figA2_efficiency.csv'), 'utf8');
    expect(csv.split('\n')[0]).toContain('reference_train_tokens_per_s,train_ratio_to_reference');
    expect(csv).toContain(',pytorch+fla fp32,40000,0.25,2.3,');
  });

  it('keeps the training numbers of a case whose inference failed and lists why under the table', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-eff-'));
    dirs.push(root);
    await mkdir(join(root, 'bench'), { recursive: true });
    // As bench writes it: NaN tokens/s is null in the JSON.
    const failed = { ...record('metala', 256, 10000, 100 * 2 ** 20), stack: 4, infer_tokens_per_s: null, infer_error: 'GPU kernel BatchMatMul: over the limit' };
    await writeFile(join(root, 'bench', 's.json'), JSON.stringify({ created: '2026-01-05T00:00:00Z', settings: 'B=128 d=128', results: [failed] }));
    const out = join(root, 'tables');
    await runReport({ resultsDir: root, outDir: out, only: ['figA2_efficiency'] });
    const md = await readFile(join(out, 'figA2_efficiency.md'), 'utf8');
    expect(md).toMatch(/\| 256 \| 10,000 \| 25\.6 \| failed \| 100 \|/);
    expect(md).toMatch(/Inference failed \(training measured\): .* T=256: GPU kernel BatchMatMul: over the limit\./);
    const [header, row] = (await readFile(join(out, 'figA2_efficiency.csv'), 'utf8')).trim().split('\n').map((l) => l.split(','));
    const csv = Object.fromEntries(header!.map((h, i) => [h, row![i]]));
    expect([csv['train_tokens_per_s'], csv['infer_tokens_per_s'], csv['infer_error'], csv['error']]).toEqual(['10000', '', 'GPU kernel BatchMatMul: over the limit', '']);
  });

  it('is listed as empty when there are no bench files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'metala-eff-'));
    dirs.push(root);
    const r = await runReport({ resultsDir: root, outDir: join(root, 'tables'), only: ['figA2_efficiency'] });
    expect(r.written).toEqual([]);
    expect(r.empty).toEqual(['figA2_efficiency']);
  });
});
