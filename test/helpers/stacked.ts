// Stacked-replica test helpers: per-replica batches, a deterministic perturbation of the parameters
// that a replica and its model alone share, and each replica's loss and gradients.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { CausalLM } from '../../src/models/lm.js';
import { lmSchema, type LmConfig } from '../../src/models/lm_config.js';
import { stackBatches } from '../../src/train/stacked_batch.js';
import { expectClose } from './close.js';
import { IGNORE_INDEX, type Batch } from '../../src/tasks/types.js';
import { crossEntropy } from '../../src/train/loss.js';
import { Rng } from '../../src/util/rng.js';

/** A random [B, T] batch with `labelled` labelled positions (fewer where two land on one). */
export function batchOf(seed: number, labelled: number, B: number, T: number, V: number): Batch {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  for (let i = 0; i < labelled; i++) labels[Math.floor(rng.next() * B * T)] = Math.floor(rng.next() * V);
  return { ids, labels, batch: B, seqLen: T };
}

/**
 * Every parameter moved off its init by a pattern of (name, index, seed), the same for a replica and
 * its model alone: zero inits (RWKV-4's W_K, W_r, W_O) would otherwise leave paths untested.
 */
export function perturb(model: CausalLM, seeds: number[]): void {
  const R = seeds.length;
  for (const [name, v] of model.params.vars) {
    const n = v.size / R;
    const h = [...name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 1000, 7);
    const add = new Float32Array(v.size);
    seeds.forEach((seed, r) => {
      for (let i = 0; i < n; i++) add[r * n + i] = 0.2 * Math.sin(0.37 * i + 1.3 * seed + h);
    });
    tf.tidy(() => v.assign(tf.add(v, tf.tensor(add, v.shape))));
  }
}

/** Mean CE of each replica's units, and the gradients of their sum by parameter name (read back asynchronously: webgpu in Node has no synchronous read). */
export async function lossesAndGrads(model: CausalLM, b: Batch): Promise<{ losses: number[]; grads: Map<string, Float32Array> }> {
  const vars = [...model.params.vars.values()];
  let kept: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const s = model.supervised(b);
    if (s.kind === 'head') throw new Error('lossesAndGrads: the plain path wanted, got head rows (METALA_HEAD_LOGITS_MAX_BYTES set low?)');
    const units = s.replicaUnits ?? [s.targets.length];
    let from = 0;
    const per = units.map((u) => {
      const l = crossEntropy(tf.slice(s.logits, [from, 0], [u, -1]) as tf.Tensor2D, s.targets.subarray(from, from + u));
      from += u;
      return l;
    });
    kept = tf.keep(tf.stack(per) as tf.Tensor1D);
    return tf.addN(per) as tf.Scalar;
  }, vars);
  const losses = [...(await kept!.data())];
  const out = new Map<string, Float32Array>();
  for (const [vn, g] of Object.entries(grads)) out.set(model.params.byVarName.get(vn)!, (await g.data()) as Float32Array);
  tf.dispose([value, kept!, ...Object.values(grads)]);
  return { losses, grads: out };
}

/**
 * A causal LM with `mixer` built from `seeds` as one stack, against each seed's model alone, on
 * each replica's own batch (`labelled(r)` labelled positions): every replica's loss and parameter
 * gradients within `rtol`, all parameters moved off their inits first (perturb).
 */
export async function expectStackEqualsAlone(
  mixer: string,
  opts: Record<string, unknown>,
  s: { B: number; T: number; V: number; D: number; seeds: number[]; labelled: (r: number) => number; rtol: number },
): Promise<void> {
  const cfg = { ...lmSchema.parse({ d_model: s.D, n_layers: 2, vocab_size: s.V, max_seq_len: s.T, mixer: { name: mixer, ...opts } }), vocab_size: s.V } as LmConfig;
  const batches = s.seeds.map((seed, r) => batchOf(100 + seed, s.labelled(r), s.B, s.T, s.V));
  const stacked = new CausalLM(cfg, s.seeds);
  perturb(stacked, s.seeds);
  const got = await lossesAndGrads(stacked, stackBatches(batches));
  for (const [r, seed] of s.seeds.entries()) {
    const alone = new CausalLM(cfg, seed);
    perturb(alone, [seed]);
    const want = await lossesAndGrads(alone, batches[r]!);
    expect(Math.abs(got.losses[r]! - want.losses[0]!), `${mixer} replica ${r} loss`).toBeLessThanOrEqual(s.rtol * Math.abs(want.losses[0]!));
    for (const [name, g] of want.grads) {
      expectClose(got.grads.get(name)!.subarray(r * g.length, (r + 1) * g.length), g, { name: `${mixer} replica ${r} ∂${name}`, rtol: s.rtol });
    }
    alone.dispose();
  }
  stacked.dispose();
}
