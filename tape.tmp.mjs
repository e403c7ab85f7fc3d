import * as tf from '@tensorflow/tfjs';
import { initBackend } from './dist/src/backend/index.js';
import { CausalLM } from './dist/src/models/lm.js';
import { lmSchema } from './dist/src/models/lm_config.js';
import { crossEntropy } from './dist/src/train/loss.js';
await initBackend(process.argv[7] ?? 'webgpu');
const [d, L, B, T, V] = process.argv.slice(2, 7).map(Number);
const cfg = { ...lmSchema.parse({ d_model: d, n_layers: L, vocab_size: V, max_seq_len: T, mixer: { name: 'metala' } }), vocab_size: V };
const model = new CausalLM(cfg, 0);
const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919) % V);
const labels = Int32Array.from({ length: B * T }, (_, i) => ids[(i + 1) % ids.length]);
const batch = { ids, labels, batch: B, seqLen: T };
const vars = [...model.params.vars.values()];
const eng = tf.engine();
const { value, grads } = tf.variableGrads(() => {
  const o = model.supervised(batch, { training: true });
  const l = crossEntropy(o.logits, o.targets);
  const tape = eng.state.activeTape;
  const seen = new Set(); const by = {}; let total = 0;
  for (const node of tape) {
    for (const t of node.saved ?? []) {
      if (seen.has(t.dataId)) continue; seen.add(t.dataId);
      if (vars.some((v) => v.dataId === t.dataId)) continue;
      const bytes = t.size * 4; total += bytes;
      const k = `${node.kernelName} [${t.shape}]`;
      by[k] = (by[k] ?? 0) + bytes;
    }
  }
  const perTokLayer = total / (B * T * L) / 4 / d;
  console.log('tape saved MB', (total / 2 ** 20).toFixed(1), 'floats per token per layer /d', perTokLayer.toFixed(1), 'live MB', (eng.state.numBytes / 2 ** 20).toFixed(1));
  const byKernel = {};
  for (const [k, b] of Object.entries(by)) { const n = k.split(' [')[0]; byKernel[n] = (byKernel[n] ?? 0) + b; }
  console.log(Object.entries(byKernel).sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, b]) => `${k} ${(b / 2 ** 20).toFixed(1)}`).join('\n'));
  return l;
}, vars);
tf.dispose([value, ...Object.values(grads)]);
