// Vision Transformer backbone with any registered token mixer (MetaLA Tab. 6, paper-metala.md §5.5):
//   tokens = Patchify(x) W_E + b_E  (+ class token) (+ position table)     [B, T, d]
//   h = h + DropPath(TokenMixer(Norm(h)));  h = h + DropPath(ChannelMix(Norm(h)))   per block
//   logits = Head(Pool(Norm(h)))                                          [B, K]
// Follows timm `vision_transformer.py::VisionTransformer` (patch embed as a dense layer on flattened
// patches instead of a stride-P conv, which is the same map), with the mixer and GLU of the authors' reply.
import * as tf from '@tensorflow/tfjs';
import { derived } from '../backend/host_inputs.js';
import { dropoutMask } from '../layers/dropout.js';
import { InputError, MetalaError } from '../util/errors.js';
import { dense, layerNorm, rmsNorm } from '../layers/basic.js';
import type { Batch } from '../tasks/types.js';
import { createSequenceMixer, reversalIndex, type SequenceMixer } from './bidirectional.js';
import { createChannelMixer } from './channel_mixer.js';
import { Params, type ParamScope } from '../layers/params.js';
import type { Classified, SupervisedOptions, TrainableModel } from './types.js';
import { recompute } from '../layers/recompute.js';
import { numPatches, numTokens, type VitConfig } from './vit_config.js';

type Norm = (x: tf.Tensor) => tf.Tensor;

/**
 * Non-overlapping P×P patches, each flattened in (row, column, channel) order.
 * @param x images [B, H, W, C]
 * @returns [B, (H/P)·(W/P), P·P·C]
 */
export function patchify(x: tf.Tensor4D, P: number): tf.Tensor3D {
  const [B, H, W, C] = x.shape;
  // Rank ≤ 4 throughout (wasm has no rank-6 transpose): [B·H/P, P, W/P, P·C] → swap the middle axes.
  const r = tf.reshape(x, [(B * H) / P, P, W / P, P * C]);
  const t = tf.transpose(r, [0, 2, 1, 3]); // [B·H/P, W/P, P, P·C]
  return tf.reshape(t, [B, (H / P) * (W / P), P * P * C]) as tf.Tensor3D;
}

export class VisionTransformer implements TrainableModel {
  readonly params: Params;
  private readonly mixers: SequenceMixer[] = [];
  private readonly channel: (((x: tf.Tensor3D) => tf.Tensor3D) | undefined)[] = [];
  private readonly norms1: Norm[] = [];
  private readonly norms2: Norm[] = [];
  private readonly finalNorm: Norm;
  /** Each block's variables (what train.recompute differentiates through). */
  private readonly blockVars: tf.Variable[][];
  private readonly embed: { w: tf.Variable; b?: tf.Variable };
  private readonly cls: tf.Variable | undefined;
  private readonly pos: tf.Variable | undefined;
  private readonly head: { w: tf.Variable; b?: tf.Variable };
  /**
   * Porting note: timm puts the class token first. With a causal mixer it would then read only
   * itself, so for causal mixers it goes last (it sees every patch); first when bidirectional.
   */
  readonly clsLast: boolean;
  private dropCalls = 0;

  constructor(
    readonly config: VitConfig,
    private readonly seed = 0,
  ) {
    const c = config;
    const d = c.d_model;
    this.params = new Params(seed);
    const root = this.params.scope('');
    // Porting note: timm draws trunc_normal(0.02) (cut at ±2, i.e. ±100σ, so the same as normal here).
    const init = { kind: 'normal', std: c.init_std } as const;
    const T = numTokens(c);
    this.embed = root.linear('patch_embed.proj', c.patch_size * c.patch_size * c.in_channels, d, init, true);
    this.cls = c.pool === 'cls' ? root.add('cls_token', [1, 1, d], init) : undefined;
    this.pos = c.pos_embed === 'learned' ? root.add('pos_embed', [1, T, d], init) : undefined;
    this.clsLast = !c.bidirectional;
    for (let i = 0; i < c.n_layers; i++) {
      const layer = root.scope(`blocks.${i}`);
      this.norms1.push(this.makeNorm(layer.scope('norm1')));
      // Causal: the mixer itself; bidirectional: a forward and a backward copy, summed (or concat + W_o),
      // or with single_pass the mixer's non-causal form (softmax without its mask).
      this.mixers.push(
        createSequenceMixer(
          { mixer: c.mixer, bidirectional: c.bidirectional, combine: c.bidirectional_combine, form: c.bidirectional_form, initStd: c.init_std },
          { dModel: d, layer: i, nLayers: c.n_layers, params: layer.scope('token_mixer'), maxSeqLen: T },
        ),
      );
      this.norms2.push(this.makeNorm(layer.scope('norm2')));
      this.channel.push(createChannelMixer(c.channel_mixer, d, layer.scope('channel_mixer'), c.init_std));
    }
    this.finalNorm = this.makeNorm(root.scope('norm'));
    this.blockVars = this.mixers.map((_, i) => this.params.under(`blocks.${i}.`));
    this.head = root.linear('head', d, c.num_classes, init, true);
  }

  private makeNorm(p: ParamScope): Norm {
    if (this.config.norm === 'rmsnorm') return (x) => rmsNorm(x, 1e-6);
    const d = this.config.d_model;
    const g = p.add('weight', [d], { kind: 'ones' }, { decay: false });
    const b = p.add('bias', [d], { kind: 'zeros' }, { decay: false });
    return (x) => tf.add(tf.mul(layerNorm(x, 1e-6), g), b);
  }

  /** The seed of the forward pass being traced and the count of its drop-path calls (their sites). */
  private dropState: { seed?: Int32Array; site: number } = { site: 0 };

  /**
   * Per-sample stochastic depth (timm DropPath): keep with prob 1 − r, rescale by 1/(1 − r). With
   * the step's dropout seed (a training step) the B draws are dropout.ts's hash of (seed, call
   * site, sample), recomputed by a replayed step; without one, tf.randomUniform as before.
   */
  private dropPath(x: tf.Tensor3D, rate: number): tf.Tensor3D {
    if (rate <= 0) return x;
    const B = x.shape[0];
    const seed = this.dropState.seed;
    if (seed !== undefined) {
      const site = this.dropState.site++;
      const mask = derived((s) => dropoutMask(s[0]!, site, B, rate), seed);
      return tf.mul(x, tf.tensor3d(mask, [B, 1, 1])) as tf.Tensor3D;
    }
    const keep = 1 - rate;
    const u = tf.randomUniform([B, 1, 1], 0, 1, 'float32', this.seed * 7919 + this.dropCalls++);
    return tf.mul(x, tf.div(tf.floor(tf.add(u, keep)), keep)) as tf.Tensor3D;
  }

  /**
   * @param pixels normalised images [B, H, W, C]
   * @returns logits [B, K]
   */
  forward(pixels: tf.Tensor4D, opts: SupervisedOptions = {}): tf.Tensor2D {
    const c = this.config;
    const B = pixels.shape[0];
    const d = c.d_model;
    let h = dense(patchify(pixels, c.patch_size), this.embed.w, this.embed.b) as tf.Tensor3D; // [B, N, d]
    if (this.cls !== undefined) {
      const tok = tf.broadcastTo(this.cls, [B, 1, d]);
      h = tf.concat(this.clsLast ? [h, tok] : [tok, h], 1) as tf.Tensor3D;
    }
    if (this.pos !== undefined) h = tf.add(h, this.pos) as tf.Tensor3D;
    const L = c.n_layers;
    // Every image has all T tokens, so the backward direction simply reverses the whole sequence.
    const rev = tf.tensor1d(c.bidirectional ? reversalIndex(undefined, B, h.shape[1]) : new Int32Array(0), 'int32');
    const training = opts.training === true;
    this.dropState = { seed: training ? opts.dropoutSeed : undefined, site: 0 };
    if (opts.recompute === true && training && c.drop_path > 0) {
      throw new MetalaError(`vit: train.recompute replays each block, so it needs model.drop_path 0 (got ${c.drop_path}). Set train.recompute: false`);
    }
    for (let i = 0; i < L; i++) {
      // timm: drop-path rates linear in depth, 0 at the first block and drop_path at the last.
      const rate = training && L > 1 ? (c.drop_path * i) / (L - 1) : training ? c.drop_path : 0;
      const block = (x: tf.Tensor, r: tf.Tensor): tf.Tensor3D => {
        let out = tf.add(x, this.dropPath(this.mixers[i]!.forward(this.norms1[i]!(x) as tf.Tensor3D, r as tf.Tensor1D), rate)) as tf.Tensor3D;
        const ch = this.channel[i];
        if (ch !== undefined) out = tf.add(out, this.dropPath(ch(this.norms2[i]!(out) as tf.Tensor3D), rate)) as tf.Tensor3D;
        return out;
      };
      h = opts.recompute === true && training ? recompute(block, [h, rev], this.blockVars[i]!) : block(h, rev);
    }
    const hn = this.finalNorm(h) as tf.Tensor3D;
    const T = hn.shape[1];
    const pooled =
      this.cls === undefined
        ? tf.mean(hn, 1)
        : tf.reshape(tf.slice(hn, [0, this.clsLast ? T - 1 : 0, 0], [B, 1, d]), [B, d]);
    return dense(pooled, this.head.w, this.head.b) as tf.Tensor2D;
  }

  /** One logit row per image, its class as the target (sequence-level labels [B]). */
  supervised(batch: Batch, opts: SupervisedOptions = {}): Classified {
    const c = this.config;
    const shape = batch.imageShape;
    if (batch.pixels === undefined || shape === undefined) {
      throw new MetalaError('model.backbone: vit needs an image task (batches with pixels). Use task.name: image_classification');
    }
    const [H, W, C] = shape;
    if (H !== c.image_size || W !== c.image_size || C !== c.in_channels) {
      throw new InputError(
        `model: vit is built for ${c.image_size}×${c.image_size}×${c.in_channels} images but the task gives ${H}×${W}×${C}. Set model.image_size: ${H} and model.in_channels: ${C} (or change task.image_size / task.channels)`,
      );
    }
    const x = tf.tensor4d(batch.pixels, [batch.batch, H, W, C]);
    return { logits: this.forward(x, opts), targets: batch.labels };
  }

  /** Patch tokens per image (without the class token). */
  get patches(): number {
    return numPatches(this.config);
  }

  dispose(): void {
    this.params.dispose();
  }
}
