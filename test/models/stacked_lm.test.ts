// Stacked replicas (train.stack): a causal LM built from seeds [s0, s1, s2] is three models in one.
// For every mixer that declares `stacks`, each replica's logits and parameter gradients equal
// those of the model built from its seed alone, on its own batch (labelled counts differing per
// replica, so the head's padding path runs too).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { MIXERS } from '../../src/mixers/registry.js';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { IGNORE_INDEX, type Batch } from '../../src/tasks/types.js';
import { crossEntropy } from '../../src/train/loss.js';
import { Rng } from '../../src/util/rng.js';
import { expectClose } from '../helpers/close.js';

const [B, T, V, D] = [2, 12, 24, 16];
const SEEDS = [2, 5, 9];

beforeAll(async () => {
  await initBackend('cpu');
});

/** Mixer options per stackable mixer: the default form and the one with every parameter kind in use. */
const CASES: Record<string, Record<string, unknown>[]> = {
  metala: [{ num_heads: 2 }, { num_heads: 2, decay: 'fixed', conv_size: 0 }],
  softmax: [{ num_heads: 2 }],
  gla: [{ num_heads: 2 }, { num_heads: 2, use_short_conv: true, conv_size: 3, norm: 'rmsnorm' }],
  based: [{ num_heads: 2, feature_dim: 4 }, { num_heads: 2, feature_dim: 4, window: 4 }],
};

function batchOf(seed: number, labelled: number): Batch {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  for (let i = 0; i < labelled; i++) labels[Math.floor(rng.next() * B * T)] = Math.floor(rng.next() * V);
  return { ids, labels, batch: B, seqLen: T };
}

function stack(bs: Batch[]): Batch {
  const cat = (xs: Int32Array[]): Int32Array => {
    const out = new Int32Array(xs.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of xs) (out.set(x, o), (o += x.length));
    return out;
  };
  return { ids: cat(bs.map((b) => b.ids)), labels: cat(bs.map((b) => b.labels)), batch: B * bs.length, seqLen: T };
}

/** Mean CE of each replica's units, and the gradients of their sum by parameter name. */
function lossesAndGrads(model: CausalLM, b: Batch): { losses: number[]; grads: Map<string, Float32Array> } {
  const vars = [...model.params.vars.values()];
  let losses: number[] = [];
  const { grads } = tf.variableGrads(() => {
    const s = model.supervised(b);
    const units = s.replicaUnits ?? [s.targets.length];
    let from = 0;
    const per = units.map((u) => {
      const l = crossEntropy(tf.slice(s.logits, [from, 0], [u, -1]) as tf.Tensor2D, s.targets.subarray(from, from + u));
      from += u;
      return l;
    });
    losses = per.map((l) => l.dataSync()[0]!);
    return tf.addN(per) as tf.Scalar;
  }, vars);
  const out = new Map<string, Float32Array>();
  for (const [vn, g] of Object.entries(grads)) out.set(model.params.byVarName.get(vn)!, g.dataSync() as Float32Array);
  tf.dispose(Object.values(grads));
  return { losses, grads: out };
}

describe('stacked causal LM = its replicas alone', () => {
  const stackable = Object.values(MIXERS).filter((m) => m.stacks === true).map((m) => m.name);
  it('every mixer that stacks has cases here', () => {
    expect(stackable.sort()).toEqual(Object.keys(CASES).sort());
  });
  for (const [mixer, optsList] of Object.entries(CASES)) {
    for (const opts of optsList) {
      it(`${mixer} ${JSON.stringify(opts)}`, () => {
        const cfg = { ...lmSchema.parse({ d_model: D, n_layers: 2, vocab_size: V, max_seq_len: T, mixer: { name: mixer, ...opts } }), vocab_size: V } as LmConfig;
        const batches = SEEDS.map((s, r) => batchOf(100 + s, 5 + 2 * r));
        const stacked = new CausalLM(cfg, SEEDS);
        const got = lossesAndGrads(stacked, stack(batches));
        SEEDS.forEach((seed, r) => {
          const alone = new CausalLM(cfg, seed);
          const want = lossesAndGrads(alone, batches[r]!);
          expect(got.losses[r]).toBeCloseTo(want.losses[0]!, 5);
          for (const [name, g] of want.grads) {
            const all = got.grads.get(name)!;
            expectClose(all.subarray(r * g.length, (r + 1) * g.length), g, { name: `${mixer} replica ${r} ∂${name}`, rtol: 1e-5 });
          }
          alone.dispose();
        });
        stacked.dispose();
      });
    }
  }
});
