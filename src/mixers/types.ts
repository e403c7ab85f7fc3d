// The token-mixer contract: one file per mixer = one row of the paper's Table 1 / A1–A3
// (its f_q, f_k, f_v, f_α, f_g), registered once in registry.ts.
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { ParamScope } from '../layers/params.js';

/** Per-layer recurrent state: e.g. MetaLA `{ S: [B,H,K,V], conv: [B,c-1,D] }`. */
export type MixerState = Record<string, tf.Tensor>;

export interface MixerContext {
  /** Model width d. */
  dModel: number;
  /** 0-based layer index and depth (for depth-scaled inits). */
  layer: number;
  nLayers: number;
  /** Parameters of this mixer, already scoped to `model.layers.<i>.token_mixer`. */
  params: ParamScope;
  /** Maximum sequence length the model is built for (position tables, SSM kernels). */
  maxSeqLen: number;
}

export interface TokenMixer {
  /**
   * x [B, T, D] → y [B, T, D]. With `state` the sequence continues from it (decode / chunked
   * prefill); with `wantState` the final state is returned. Training passes neither.
   */
  forward(x: tf.Tensor3D, opts?: { state?: MixerState; wantState?: boolean }): { y: tf.Tensor3D; state?: MixerState };
}

export type Family = 'linformer' | 'ssm' | 'linrnn' | 'softmax' | 'delta';

/**
 * How a mixer reads the golden fixtures of its authors' code (`metala golden`, src/golden/): which
 * classes they come from, how their constructor arguments map to our options, and their parameter
 * names where ours differ.
 */
export interface ReferenceAdapter {
  /** The authors' class names the fixtures give (`class`). */
  classes: readonly string[];
  /**
   * The fixture's hyperparameters → our options (parsed by the mixer's schema afterwards), the model
   * width, and whether the layer is causal (`create`) or not (`createNonCausal`). Throws a message
   * for a configuration this port does not support.
   */
  fromFixture(hp: Record<string, unknown>): { options: Record<string, unknown>; dModel: number; causal: boolean };
  /** Authors' parameter name → ours, where they differ. */
  names?: Readonly<Record<string, string>>;
}

export interface MixerDef<S extends z.ZodObject = z.ZodObject> {
  name: string;
  family: Family;
  /** Paper/citation this file follows. */
  cite: string;
  /** The unified form's functions (paper Eq. 11–15, Tab. 1/A1–A3), as text for `metala list`. */
  form: { f_q: string; f_k: string; f_v: string; f_alpha: string; f_g: string };
  /** Paper Tab. 2: C0 linear complexity, C1 dynamic memory, C2 static approximation, C3 least parameters. */
  properties: { C0: boolean; C1: boolean; C2: boolean; C3: boolean };
  /**
   * `create` accepts stacked parameters (train.stack, src/layers/replicas.ts): every use of a
   * parameter goes through `dense`, `causalConv1d` or `perRow`, so R replicas run as one layer.
   */
  stacks?: true;
  /** Options schema (strict, with defaults); `name` is added by the config schema. */
  options: S;
  /** Recurrent state size per layer in floats, for `metala list` and the tables. */
  stateSize(opts: z.infer<S>, dModel: number): number;
  /** Parameter count of one mixer layer (the formula the contract test checks). */
  paramCount(opts: z.infer<S>, dModel: number): number;
  create(opts: z.infer<S>, ctx: MixerContext): TokenMixer;
  /**
   * Optional non-causal form: every position sees the whole (unpadded) sequence in one pass, with
   * the parameters `create` makes (softmax attention without its mask = DeiT's attention). Used by
   * backbones with `bidirectional_form: single_pass`; recurrent mixers have none and run two passes.
   */
  createNonCausal?(opts: z.infer<S>, ctx: MixerContext): TokenMixer;
  /** Mixers ported from code with golden fixtures (../shared/golden/seed/): how to read them. */
  reference?: ReferenceAdapter;
}

/**
 * Checks a mixer against the contract with its own options type, then erases that type so every
 * mixer fits one registry (a MixerDef<S> is not a MixerDef<ZodObject>: its functions take only S's
 * options). Safe because callers pass `create` only what `def.options` parsed.
 */
export function defineMixer<S extends z.ZodObject>(def: MixerDef<S>): MixerDef {
  return def as unknown as MixerDef;
}
