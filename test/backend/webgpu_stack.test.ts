// Stacked sweeps on a real WebGPU device (CI: lavapipe): a stack of 2 MetaLA runs trains through the
// fused kernels (short conv with the replicas as channels, chunkwise gated recurrence, norms, cross
// entropy) and the tiled matmul's batched products, and logs the losses and evaluations of the two
// runs trained alone. Skipped where Dawn finds no adapter, saying why.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, shutdownBackend } from '../../src/backend/index.js';
import { loadExperiment } from '../../src/config/load.js';
import { trainRun } from '../../src/train/loop.js';
import { trainStack } from '../../src/train/stack_loop.js';
import { expectClose } from '../helpers/close.js';
import { expectStackEqualsAlone } from '../helpers/stacked.js';
import { webgpuOrWhy } from '../helpers/webgpu.js';

const why = await webgpuOrWhy('webgpu stack test');

const CONFIG = `
name: tiny
task: { name: mqar, vocab_size: 96, input_seq_len: 64, num_kv_pairs: 4, train_examples: 256, test_examples: 32 }
model: { d_model: 32, n_layers: 2, mixer: { name: metala, num_heads: 2, key_dim_ratio: 1, conv_size: 2 }, max_seq_len: 64 }
train: { batch_size: 16, max_steps: 12, lr: 3.0e-3, eval_every: 6, log_every: 1 }
sweep:
  - { seed: [3, 4], train.lr: [3.0e-3] }
`;

afterAll(() => shutdownBackend());

describe.skipIf(why !== undefined)('stacked sweep on webgpu', () => {
  it('a stack of 2 = the two runs alone (losses, gradient norms, evaluations)', async () => {
    const backend = await initBackend('webgpu');
    const dir = mkdtempSync(join(tmpdir(), 'metala-webgpu-stack-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, CONFIG);
    const runs = loadExperiment(file).runs;
    for (const r of runs) await trainRun(r, { resultsDir: join(dir, 'alone'), backend, progress: false });
    const outs = await trainStack(runs, { resultsDir: join(dir, 'stack'), backend, progress: false });
    expect(outs.map((o) => o.status)).toEqual(['finished', 'finished']);
    for (const r of runs) {
      const read = (where: string) =>
        readFileSync(join(dir, where, 'tiny', r.run_id, 'metrics.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { loss?: number; grad_norm?: number; eval?: { loss: number; accuracy: number } });
      const [s, a] = [read('stack'), read('alone')];
      expect(s.length).toBe(a.length);
      const pick = (ls: typeof s, f: (l: (typeof s)[number]) => number | undefined) => ls.map(f).filter((x): x is number => x !== undefined);
      expectClose(pick(s, (l) => l.loss), pick(a, (l) => l.loss), { name: `${r.run_id} losses`, rtol: 1e-4 });
      expectClose(pick(s, (l) => l.grad_norm), pick(a, (l) => l.grad_norm), { name: `${r.run_id} gradient norms`, rtol: 1e-3 });
      expectClose(pick(s, (l) => l.eval?.loss), pick(a, (l) => l.eval?.loss), { name: `${r.run_id} eval losses`, rtol: 1e-4 });
      expect(pick(s, (l) => l.eval?.accuracy)).toEqual(pick(a, (l) => l.eval?.accuracy));
    }
  }, 180_000);
});

describe.skipIf(why !== undefined)('stacked causal LM on webgpu = its replicas alone', () => {
  // The mixers whose kernels see the replicas differently: RWKV-4's WKV (replicas as channels),
  // Mamba's selective scan (one call per replica), GLA and Based (batched products, conv taps).
  const cases: [string, Record<string, unknown>][] = [
    ['rwkv4', {}],
    ['mamba', {}],
    ['gla', { num_heads: 2, use_short_conv: true, conv_size: 3 }],
    ['based', { num_heads: 2, feature_dim: 4 }],
  ];
  for (const [mixer, opts] of cases) {
    it(`${mixer}: each replica's losses and gradients within 1e-4`, async () => {
      await initBackend('webgpu');
      await expectStackEqualsAlone(mixer, opts, { B: 2, T: 64, V: 24, D: 16, seeds: [2, 5], labelled: (r) => 9 + 4 * r, rtol: 1e-4 });
    }, 120_000);
  }
});
