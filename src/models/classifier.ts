// Sequence classifier for the Long Range Arena (MetaLA Tab. 7, App. A4): the pre-norm block of the
// LM backbone (paper Eq. A39–A43) over a whole sequence, then pooling and a classifier head:
//   h = Enc(ids)  (+ learned CLS in front)                       [B, T, d]
//   h = h + Drop(Mix(Norm(h)));  h = h + Drop(GLU(Norm(h)))      per layer; Mix causal or bidirectional
//   u = Pool(Norm(h))  (mean over real positions | CLS | last real position)      [B, d]
//   logits = Head(u), or for two towers Head([u, v, u·v, u − v])  (LRA / S4 Retrieval)  [B, C]
// Padding: sequences are right-padded; causal scans never read padding before a real token, the
// reverse scan reverses within each real length, and pooling only reads real positions, so padding
// never changes a prediction. Upstream reference: LRA `classifier_head(_dual)`, S4 `SequenceDecoder`.
import * as tf from '@tensorflow/tfjs';
import { derived } from '../backend/host_inputs.js';
import { seededDropout } from '../layers/dropout.js';
import { dense, gelu, layerNorm, rmsNorm } from '../layers/basic.js';
import type { Batch } from '../tasks/types.js';
import { MetalaError } from '../util/errors.js';
import { createSequenceMixer, reversalIndex } from './bidirectional.js';
import type { SequenceMixer } from './bidirectional.js';
import { createChannelMixer } from './channel_mixer.js';
import type { ClassifierConfig } from './classifier_config.js';
import { Params } from '../layers/params.js';
import { embedLookup } from '../layers/embedding.js';
import type { Classified, SupervisedOptions, TrainableModel } from './types.js';
import { recompute } from '../layers/recompute.js';

export class SequenceClassifier implements TrainableModel {
  readonly params: Params;
  private readonly mixers: SequenceMixer[] = [];
  private readonly channel: (((x: tf.Tensor3D) => tf.Tensor3D) | undefined)[] = [];
  private readonly embed: tf.Variable;
  private readonly embedBias: tf.Variable | undefined;
  private readonly cls: tf.Variable | undefined;
  private readonly head: { w: tf.Variable; b?: tf.Variable }[] = [];
  /** Each block's variables (what train.recompute differentiates through). */
  private readonly blockVars: tf.Variable[][];

  constructor(
    readonly config: ClassifierConfig,
    seed = 0,
  ) {
    const c = config;
    this.params = new Params(seed);
    const root = this.params.scope('classifier');
    const init = { kind: 'normal', std: c.init_std } as const;
    if (c.encoder === 'embedding') {
      this.embed = root.add('embed.weight', [c.vocab_size, c.d_model], init);
    } else {
      this.embed = root.add('encoder.weight', [1, c.d_model], init, { layout: 'linear' });
      this.embedBias = root.add('encoder.bias', [c.d_model], { kind: 'zeros' }, { decay: false });
    }
    // LRA: a zero-initialised CLS vector prepended to the sequence.
    if (c.pooling === 'cls') this.cls = root.add('cls', [1, 1, c.d_model], { kind: 'zeros' }, { decay: false });
    for (let i = 0; i < c.n_layers; i++) {
      const layer = root.scope(`layers.${i}`);
      const ctx = { dModel: c.d_model, layer: i, nLayers: c.n_layers, params: layer.scope('token_mixer'), maxSeqLen: c.max_seq_len };
      this.mixers.push(createSequenceMixer({ mixer: c.mixer, bidirectional: c.bidirectional, combine: c.combine, initStd: c.init_std }, ctx));
      this.channel.push(createChannelMixer(c.channel_mixer, c.d_model, layer.scope('channel_mixer'), c.init_std));
    }
    const feat = c.dual_tower ? (c.interaction === 'nli' ? 4 : 2) * c.d_model : c.d_model;
    const hidden = c.head_hidden ?? (c.dual_tower ? c.d_model : 0);
    if (hidden > 0) this.head.push(root.linear('head.fc1', feat, hidden, init, true));
    this.head.push(root.linear(hidden > 0 ? 'head.fc2' : 'head.fc', hidden > 0 ? hidden : feat, c.num_classes, init, true));
    this.blockVars = this.mixers.map((_, i) => this.params.under(`classifier.layers.${i}.`));
  }

  private norm(x: tf.Tensor): tf.Tensor3D {
    return (this.config.norm === 'simplermsnorm' ? rmsNorm(x, 1e-6) : layerNorm(x, 1e-5)) as tf.Tensor3D;
  }

  /** The seed of the forward pass being traced and the count of its dropout calls (their sites). */
  private dropState: { seed?: Int32Array; site: number } = { site: 0 };

  private drop(x: tf.Tensor3D, training: boolean): tf.Tensor3D {
    const p = this.config.dropout;
    if (!training || p <= 0) return x;
    const seed = this.dropState.seed;
    return seed !== undefined ? seededDropout(x, p, seed, this.dropState.site++) : (tf.dropout(x, p) as tf.Tensor3D);
  }

  /**
   * One tower: ids [B·T] row-major with real lengths [B] → pooled features [B, d].
   * Call inside tf.tidy.
   */
  encode(ids: Int32Array, B: number, T: number, lengths: Int32Array | undefined, training = false, recomputeBlocks = false): tf.Tensor2D {
    const c = this.config;
    const d = c.d_model;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i]! < 0 || ids[i]! >= c.vocab_size) throw new MetalaError(`classifier: token id ${ids[i]} is outside the vocabulary [0, ${c.vocab_size}). Check task and model.vocab_size`);
    }
    const idT = tf.tensor1d(ids, 'int32');
    let h: tf.Tensor3D =
      this.embedBias === undefined
        ? (tf.reshape(embedLookup(this.embed as tf.Tensor2D, ids), [B, T, d]) as tf.Tensor3D)
        : (tf.add(tf.mul(tf.reshape(tf.div(tf.cast(idT, 'float32'), Math.max(1, c.vocab_size - 1)), [B, T, 1]), tf.reshape(this.embed, [1, 1, d])), this.embedBias) as tf.Tensor3D);
    const Tn = this.cls !== undefined ? T + 1 : T;
    if (this.cls !== undefined) h = tf.concat([tf.tile(this.cls, [B, 1, 1]) as tf.Tensor3D, h], 1);
    // The arrays computed from the lengths: recomputed when a training step is replayed
    // (host_inputs.ts); without lengths every sequence is full and they are constants.
    const fromLengths = (len: Int32Array): [Int32Array, Int32Array | Float32Array] => this.lengthArrays(len, B, Tn);
    const [revIdx, pool] =
      lengths === undefined ? fromLengths(new Int32Array(B).fill(T)) : (derived((len) => fromLengths(len as Int32Array), lengths) as [Int32Array, Int32Array | Float32Array]);
    const rev = tf.tensor1d(revIdx, 'int32');
    for (let i = 0; i < this.mixers.length; i++) {
      if (recomputeBlocks) {
        // Recomputation replays the block, so it must be deterministic (checked in supervised()).
        h = recompute((x, r) => this.block(i, x as tf.Tensor3D, r as tf.Tensor1D, false), [h, rev], this.blockVars[i]!);
      } else {
        h = this.block(i, h, rev, training);
      }
    }
    const hn = this.norm(h);
    if (c.pooling === 'cls') return tf.reshape(tf.slice(hn, [0, 0, 0], [B, 1, d]), [B, d]) as tf.Tensor2D;
    if (c.pooling === 'last') return tf.gather(tf.reshape(hn, [B * Tn, d]), tf.tensor1d(pool as Int32Array, 'int32')) as tf.Tensor2D;
    // Mean over real positions: Σ_t m_bt h_bt / L_b.
    return tf.sum(tf.mul(hn, tf.tensor3d(pool as Float32Array, [B, Tn, 1])), 1) as tf.Tensor2D;
  }

  /**
   * From each sequence's length (before a CLS token): the reversal index of the bidirectional
   * mixers [B·Tn], and the pooling's rows (last: [B]) or weights (mean: 1/L_b on real positions, [B·Tn]).
   */
  private lengthArrays(lengths: Int32Array, B: number, Tn: number): [Int32Array, Int32Array | Float32Array] {
    const L = this.cls !== undefined ? lengths.map((x) => x + 1) : lengths;
    const rev = reversalIndex(L, B, Tn);
    if (this.config.pooling === 'last') return [rev, Int32Array.from({ length: B }, (_, b) => b * Tn + Math.max(0, L[b]! - 1))];
    const mask = new Float32Array(B * Tn);
    for (let b = 0; b < B; b++) mask.fill(1 / Math.max(1, L[b]!), b * Tn, b * Tn + L[b]!);
    return [rev, mask];
  }

  /** Pre-norm block i (Eq. A39–A43): h + Drop(Mix(Norm(h))), then + Drop(GLU(Norm(·))); [B, T, d]. */
  private block(i: number, h: tf.Tensor3D, rev: tf.Tensor1D, training: boolean): tf.Tensor3D {
    let out = tf.add(h, this.drop(this.mixers[i]!.forward(this.norm(h), rev), training)) as tf.Tensor3D;
    const ch = this.channel[i];
    if (ch !== undefined) out = tf.add(out, this.drop(ch(this.norm(out)), training)) as tf.Tensor3D;
    return out;
  }

  /** Logits [B, C] of a batch (one or two towers). Call inside tf.tidy. */
  forward(batch: Batch, training = false, recomputeBlocks = false): tf.Tensor2D {
    const { batch: B, seqLen: T } = batch;
    let feat = this.encode(batch.ids, B, T, batch.lengths, training, recomputeBlocks);
    if (this.config.dual_tower) {
      if (batch.ids2 === undefined) throw new MetalaError('classifier: dual_tower is set but the task gives no second sequence (ids2). Set model.dual_tower: false');
      const v = this.encode(batch.ids2, B, T, batch.lengths2, training, recomputeBlocks);
      feat = (this.config.interaction === 'nli' ? tf.concat([feat, v, tf.mul(feat, v), tf.sub(feat, v)], 1) : tf.concat([feat, v], 1)) as tf.Tensor2D;
    } else if (batch.ids2 !== undefined) {
      throw new MetalaError('classifier: the task gives sequence pairs (ids2) but model.dual_tower is false. Set model.dual_tower: true');
    }
    let z: tf.Tensor = feat;
    for (let i = 0; i < this.head.length; i++) {
      z = dense(z, this.head[i]!.w, this.head[i]!.b);
      if (i < this.head.length - 1) z = gelu(z);
    }
    return z as tf.Tensor2D;
  }

  /** One label per example: logits [B, C] and targets = batch.labels [B]. */
  supervised(batch: Batch, opts: SupervisedOptions = {}): Classified {
    if (batch.labels.length !== batch.batch) {
      throw new MetalaError(`classifier: expected one label per example (${batch.batch}), got ${batch.labels.length}. Use backbone 'lm' for token-level tasks`);
    }
    const training = opts.training === true;
    if (opts.recompute === true && training && this.config.dropout > 0) {
      throw new MetalaError(`classifier: train.recompute replays each block, so it needs model.dropout 0 (got ${this.config.dropout}). Set train.recompute: false`);
    }
    this.dropState = { seed: opts.dropoutSeed, site: 0 };
    try {
      return { logits: this.forward(batch, training, opts.recompute === true && training), targets: batch.labels };
    } finally {
      this.dropState = { site: 0 };
    }
  }

  dispose(): void {
    this.params.dispose();
  }
}
