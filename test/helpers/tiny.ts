// A tiny MQAR experiment that trains in a second or two on the cpu/wasm backends.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export const TINY_CONFIG = `
name: tiny
seed: 3
task: { name: mqar, vocab_size: 32, input_seq_len: 16, num_kv_pairs: 2, train_examples: 256, test_examples: 32 }
model: { d_model: 16, n_layers: 1, mixer: { name: metala, num_heads: 2, key_dim_ratio: 1, conv_size: 2 }, max_seq_len: 16 }
train: { batch_size: 16, max_steps: 12, lr: 3.0e-3, eval_every: 4, log_every: 2 }
`;

export function tinyConfig(extra = ''): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'metala-tiny-'));
  const file = join(dir, 'tiny.yaml');
  writeFileSync(file, TINY_CONFIG + extra);
  return { dir, file };
}
