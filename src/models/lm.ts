// Causal LM backbone (official MetaLA HF model: MetaLAModel / MetaLAForCausalLM; paper App. A3.2):
//   h = Embed(ids)                                   (no √d scaling: no_scale_embedding = True)
//   h = h + TokenMixer(Norm(h));  h = h + ChannelMix(Norm(h))      per layer (pre-norm)
//   logits = Norm(h) W_lm                            (untied lm_head unless tie_embeddings)
// Any registered mixer plugs in; the model offers a parallel forward and a recurrent decoder.
import * as tf from '@tensorflow/tfjs';
import { resolveMixer } from '../mixers/registry.js';
import type { MixerState, TokenMixer } from '../mixers/types.js';
import { layerNorm, rmsNorm } from '../layers/basic.js';
import { createChannelMixer } from './channel_mixer.js';
import type { LmConfig } from './lm_config.js';
import { Params } from '../layers/params.js';
import type { Batch } from '../tasks/types.js';
import { labelIndex, type LabelIndex } from '../data/labels.js';
import { derived, guarded } from '../backend/host_inputs.js';
import { embedLookup } from '../layers/embedding.js';
import { replicaMatMul } from '../layers/replicas.js';
import type { Classified, HeadRows, SupervisedOptions, TrainableModel } from './types.js';
import { logitsTooLarge } from './head_rows.js';
import { recompute } from '../layers/recompute.js';

export interface LmForwardResult {
  logits: tf.Tensor3D;
  states?: MixerState[];
}

/** Label positions and targets of a batch, recomputed when a training step is replayed (host_inputs.ts). */
function labelIndexOf(labels: Int32Array): LabelIndex {
  const [rows, targets] = derived((y) => {
    const i = labelIndex(y as Int32Array);
    return [i.rows, i.targets];
  }, labels) as Int32Array[];
  return { rows: rows!, targets: targets! };
}

export class CausalLM implements TrainableModel {
  readonly params: Params;
  private readonly mixers: TokenMixer[] = [];
  private readonly channel: (((x: tf.Tensor3D) => tf.Tensor3D) | undefined)[] = [];
  private readonly embed: tf.Variable;
  private readonly head: tf.Variable | undefined;
  /** Each block's variables (what train.recompute differentiates through). */
  private readonly blockVars: tf.Variable[][];

  /**
   * @param seed one seed, or one per stacked replica (train.stack): the model then holds that many
   *             replicas, each initialised as a model built from its seed alone, and reads batches of
   *             R·B sequences, replica-major (src/layers/replicas.ts)
   */
  constructor(
    readonly config: LmConfig,
    seed: number | readonly number[] = 0,
  ) {
    const c = config;
    this.params = new Params(seed);
    const root = this.params.scope('');
    const init = { kind: 'normal', std: c.init_std } as const;
    this.embed = root.add('model.embed_tokens.weight', [c.vocab_size, c.d_model], init);
    const { def, opts } = resolveMixer(c.mixer);
    if (this.params.stacked && def.stacks !== true) throw new Error(`internal: mixer ${def.name} cannot stack (the loader checks cannotStack first)`);
    for (let i = 0; i < c.n_layers; i++) {
      const layer = root.scope(`model.layers.${i}`);
      this.mixers.push(
        def.create(opts, { dModel: c.d_model, layer: i, nLayers: c.n_layers, params: layer.scope('token_mixer'), maxSeqLen: c.max_seq_len }),
      );
      this.channel.push(createChannelMixer(c.channel_mixer, c.d_model, layer.scope('channel_mixer'), c.init_std));
    }
    // Stored [d, V] so the head is a plain matMul; checkpoint files hold [V, d] (nn.Linear).
    this.head = c.tie_embeddings ? undefined : root.linear('lm_head', c.d_model, c.vocab_size, init).w;
    this.blockVars = this.mixers.map((_, i) => this.params.under(`model.layers.${i}.`));
  }

  private norm(x: tf.Tensor): tf.Tensor3D {
    return (this.config.norm === 'simplermsnorm' ? rmsNorm(x, 1e-6) : layerNorm(x, 1e-5)) as tf.Tensor3D;
  }

  /**
   * @param ids    token ids [B, T] (int32)
   * @param states per-layer recurrent states to continue from (decode); returned when wantState
   */
  forward(ids: tf.Tensor2D, opts: { states?: MixerState[]; wantState?: boolean } = {}): LmForwardResult {
    const [B, T] = ids.shape;
    const { hidden, states } = this.body(ids, opts);
    const logits = tf.reshape(this.project(hidden), [B, T, this.config.vocab_size]) as tf.Tensor3D;
    return opts.wantState === true ? { logits, states } : { logits };
  }

  /** Final-normed hidden states [B·T, d] (and the mixers' states when asked). */
  private body(
    ids: tf.Tensor2D,
    opts: { states?: MixerState[]; wantState?: boolean; recompute?: boolean },
    idsCpu?: Int32Array,
  ): { hidden: tf.Tensor2D; states: MixerState[] } {
    const [B, T] = ids.shape;
    const d = this.config.d_model;
    // With the ids on the CPU (training batches) the lookup's gradient avoids atomic adds on webgpu.
    const rows = this.params.stacked ? this.stackedLookup(ids, idsCpu) : idsCpu !== undefined ? embedLookup(this.embed as tf.Tensor2D, idsCpu) : tf.gather(this.embed, tf.reshape(ids, [-1]));
    let h = tf.reshape(rows, [B, T, d]) as tf.Tensor3D;
    const states: MixerState[] = [];
    for (let i = 0; i < this.mixers.length; i++) {
      if (opts.recompute === true && opts.wantState !== true && opts.states === undefined) {
        h = recompute((x) => this.block(i, x as tf.Tensor3D).h, [h], this.blockVars[i]!);
        continue;
      }
      if (opts.wantState !== true && opts.states === undefined) {
        // Training and scoring: the block in its own tidy frees every intermediate that the tape did
        // not save for the backward pass (the tape keeps its own clones), as PyTorch frees what no
        // saved tensor references; without it they all live until the gradient call ends.
        h = tf.tidy(() => this.block(i, h).h);
        continue;
      }
      const r = this.block(i, h, { state: opts.states?.[i], wantState: opts.wantState });
      if (opts.wantState === true) states.push(r.state ?? {});
      h = r.h;
    }
    return { hidden: tf.reshape(this.norm(h), [B * T, d]) as tf.Tensor2D, states };
  }

  /**
   * Stacked replicas: embeddings [R, V, d] read as one table [R·V, d], replica r's ids shifted by r·V
   * (rows r·B … (r+1)·B − 1 of ids [R·B, T] are replica r's).
   */
  private stackedLookup(ids: tf.Tensor2D, idsCpu?: Int32Array): tf.Tensor2D {
    const R = this.params.replicas;
    const V = this.config.vocab_size;
    const table = tf.reshape(this.embed, [R * V, this.config.d_model]) as tf.Tensor2D;
    const perReplica = ids.size / R;
    if (idsCpu !== undefined) {
      const shifted = derived((x) => (x as Int32Array).map((id, i) => id + Math.floor(i / perReplica) * V), idsCpu);
      return embedLookup(table, shifted);
    }
    const shift = tf.mul(tf.floorDiv(tf.range(0, ids.size, 1, 'int32'), perReplica), V);
    return tf.gather(table, tf.add(tf.reshape(ids, [-1]), shift));
  }

  /** Pre-norm block i: h + Mix(Norm(h)), then + ChannelMix(Norm(·)); [B, T, d] → [B, T, d]. */
  private block(i: number, h: tf.Tensor3D, mix: { state?: MixerState; wantState?: boolean } = {}): { h: tf.Tensor3D; state?: MixerState } {
    const r = this.mixers[i]!.forward(this.norm(h), mix);
    let out = tf.add(h, r.y) as tf.Tensor3D;
    const ch = this.channel[i];
    if (ch !== undefined) out = tf.add(out, ch(this.norm(out))) as tf.Tensor3D;
    return { h: out, state: r.state };
  }

  /**
   * The LM head: [N, d] → logits [N, V] (untied head, or the embedding transposed). Stacked
   * replicas: N = R·n rows, replica-major, through one batched product [R, n, d] × [R, d, V].
   */
  private project(h: tf.Tensor2D): tf.Tensor2D {
    if (this.params.stacked) {
      const R = this.params.replicas;
      const h3 = tf.reshape(h, [R, -1, this.config.d_model]) as tf.Tensor3D;
      const z = this.head !== undefined ? replicaMatMul(h3, this.head as tf.Tensor3D) : replicaMatMul(h3, this.embed as tf.Tensor3D, true);
      return tf.reshape(z, [-1, this.config.vocab_size]) as tf.Tensor2D;
    }
    return this.head !== undefined ? tf.matMul(h, this.head) : tf.matMul(h, this.embed, false, true);
  }

  /**
   * Logits at the labelled positions (label ≠ −100): MQAR queries, or every next token. The rows
   * are picked before the head, so unlabelled positions never pay for the [·, V] product (at MQAR's
   * vocab 8192, B = 256, T = 256 the full product would be a 2 GiB tensor, over WebGPU's binding limit).
   * Where even the labelled rows' logits are over METALA_HEAD_LOGITS_MAX_BYTES (training or
   * evaluation), the head's rows and weight instead (HeadRows).
   */
  supervised(batch: Batch, opts: SupervisedOptions = {}): Classified | HeadRows {
    const idx = labelIndexOf(batch.labels);
    const { hidden } = this.body(tf.tensor2d(batch.ids, [batch.batch, batch.seqLen], 'int32'), { recompute: opts.recompute }, batch.ids);
    if (this.params.stacked) return this.stackedSupervised(hidden, idx, batch.labels.length);
    const rows = idx.rows.length === hidden.shape[0] ? hidden : (tf.gather(hidden, tf.tensor1d(idx.rows, 'int32')) as tf.Tensor2D);
    if (logitsTooLarge(rows.shape[0], this.config.vocab_size)) {
      return this.headRows(tf.reshape(rows, [1, rows.shape[0], this.config.d_model]) as tf.Tensor3D, idx.targets, [rows.shape[0]]);
    }
    return { logits: this.project(rows), targets: idx.targets };
  }

  /** Rows [R, n, d] and the head's weight for a loss that forms the logits in chunks (head_rows.ts). */
  private headRows(rows: tf.Tensor3D, targets: Int32Array, replicaUnits: number[]): HeadRows {
    const [R] = rows.shape;
    const d = this.config.d_model;
    const V = this.config.vocab_size;
    const transposed = this.head === undefined;
    const weight = (transposed ? tf.reshape(this.embed, [R, V, d]) : tf.reshape(this.head!, [R, d, V])) as tf.Tensor3D;
    return { kind: 'head', rows, weight, transposed, targets, replicaUnits };
  }

  /**
   * Stacked replicas: the head's batched product needs as many rows from each replica; where the
   * replicas' labelled counts differ, each is padded with copies of its first row, whose logits are
   * dropped again.
   */
  private stackedSupervised(hidden: tf.Tensor2D, idx: LabelIndex, positions: number): Classified | HeadRows {
    const R = this.params.replicas;
    const per = positions / R;
    // The head's shapes and path depend on each replica's count: a replayed step needs the same counts.
    const units = Array.from(
      guarded((rows) => {
        const u = new Int32Array(R);
        for (const row of rows) u[Math.floor(row / per)]! += 1;
        return u;
      }, idx.rows),
    );
    const n = Math.max(...units);
    const chunked = logitsTooLarge(R * n, this.config.vocab_size);
    if (units.every((u) => u === n)) {
      const rows = idx.rows.length === hidden.shape[0] ? hidden : (tf.gather(hidden, tf.tensor1d(idx.rows, 'int32')) as tf.Tensor2D);
      if (chunked) return this.headRows(tf.reshape(rows, [R, n, this.config.d_model]) as tf.Tensor3D, idx.targets, units);
      return { logits: this.project(rows), targets: idx.targets, replicaUnits: units };
    }
    const [padded, keep] = derived((rows) => {
      const padded = new Int32Array(R * n);
      const keep = new Int32Array(rows.length);
      let i = 0;
      for (let r = 0; r < R; r++) {
        const u = units[r]!;
        for (let j = 0; j < n; j++) padded[r * n + j] = j < u ? rows[i + j]! : u > 0 ? rows[i]! : r * per;
        for (let j = 0; j < u; j++) keep[i + j] = r * n + j;
        i += u;
      }
      return [padded, keep];
    }, idx.rows);
    const paddedRows = tf.gather(hidden, tf.tensor1d(padded, 'int32')) as tf.Tensor2D;
    if (chunked) return this.headRows(tf.reshape(paddedRows, [R, n, this.config.d_model]) as tf.Tensor3D, idx.targets, units);
    const z = this.project(paddedRows);
    return { logits: tf.gather(z, tf.tensor1d(keep, 'int32')) as tf.Tensor2D, targets: idx.targets, replicaUnits: units };
  }

  /** Parallel-form logits for plain arrays: ids [B][T] → [B][T][V]. */
  async logits(ids: number[][]): Promise<number[][][]> {
    const out = tf.tidy(() => this.forward(tf.tensor2d(ids, undefined, 'int32')).logits);
    const arr = (await out.array()) as number[][][];
    out.dispose();
    return arr;
  }

  /** A recurrent decoder: prefill a prompt, then feed one token at a time with constant state. */
  decoder(): Decoder {
    return new Decoder(this);
  }

  dispose(): void {
    this.params.dispose();
  }
}

export class Decoder {
  private states: MixerState[] | undefined;

  constructor(private readonly model: CausalLM) {}

  private run(ids: number[][]): tf.Tensor3D {
    const prev = this.states;
    const { logits, states } = tf.tidy(() => {
      const r = this.model.forward(tf.tensor2d(ids, undefined, 'int32'), { states: prev, wantState: true });
      return { logits: r.logits, states: r.states! };
    });
    if (prev !== undefined) for (const s of prev) for (const t of Object.values(s)) t.dispose();
    this.states = states;
    return logits;
  }

  /** Feed a prompt ids [B][T]; returns its logits [B][T][V] and keeps the state. */
  async prefill(ids: number[][]): Promise<number[][][]> {
    const l = this.run(ids);
    const arr = (await l.array()) as number[][][];
    l.dispose();
    return arr;
  }

  /** Feed one token per sequence tokens [B]; returns next-token logits [B][V]. */
  async step(tokens: number[]): Promise<number[][]> {
    const l = this.run(tokens.map((t) => [t]));
    const arr = (await l.array()) as number[][][];
    l.dispose();
    return arr.map((row) => row[0]!);
  }

  /** Floats held in the recurrent state (constant in T for linear mixers). */
  stateFloats(): number {
    let n = 0;
    for (const s of this.states ?? []) for (const t of Object.values(s)) n += t.size;
    return n;
  }

  dispose(): void {
    for (const s of this.states ?? []) for (const t of Object.values(s)) t.dispose();
    this.states = undefined;
  }
}
