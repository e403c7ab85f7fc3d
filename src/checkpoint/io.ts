// Checkpoints: a folder with config.json + model.safetensors, Hugging Face style. Reads the
// official MetaLA release (MetaLAConfig + HF tensor names, fp32/bf16/fp16) and writes our own in
// the same format, with our full model config under `metala_model` so any mixer round-trips.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../util/errors.js';
import { CausalLM } from '../models/lm.js';
import { lmSchema, type LmConfig } from '../models/lm_config.js';
import type { Params, ParamSpec } from '../layers/params.js';
import type { TrainableModel } from '../models/types.js';
import { encodeSafetensors, readSafetensors } from './safetensors.js';

interface HfMetalaConfig {
  model_type?: string;
  vocab_size?: number;
  decoder_embed_dim?: number;
  decoder_layers?: number;
  decoder_attention_heads?: number;
  glu_dim?: number;
  glu_act?: string;
  norm_type?: string;
  no_scale_embedding?: boolean;
  tie_word_embeddings?: boolean;
  metala_model?: unknown;
}

/** Map the official MetaLAConfig (configuration_metala.py) onto our LM config. */
function fromHfConfig(hf: HfMetalaConfig, file: string, names: Set<string>, convWidth: number | undefined): LmConfig {
  const need = (k: keyof HfMetalaConfig): number => {
    const v = hf[k];
    if (typeof v !== 'number') throw new InputError(`${file}: ${k}: missing or not a number. Is this a MetaLA config.json?`);
    if (!Number.isSafeInteger(v) || v < 1) throw new InputError(`${file}: ${k}: ${v} is not a positive integer. Fix config.json`);
    return v;
  };
  if (hf.no_scale_embedding === false) throw new InputError(`${file}: no_scale_embedding: false (√d embedding scaling) is not supported. Only the released setting (true) is`);
  if (hf.norm_type !== undefined && hf.norm_type !== 'simplermsnorm') {
    throw new InputError(`${file}: norm_type: '${hf.norm_type}' is not supported. metala reads the released setting 'simplermsnorm'`);
  }
  if (hf.glu_act !== undefined && hf.glu_act !== 'silu' && hf.glu_act !== 'gelu') {
    throw new InputError(`${file}: glu_act: '${String(hf.glu_act)}' is not supported (silu or gelu). Fix config.json`);
  }
  const d = need('decoder_embed_dim');
  return {
    backbone: 'lm',
    d_model: d,
    n_layers: need('decoder_layers'),
    vocab_size: need('vocab_size'),
    mixer: {
      name: 'metala',
      num_heads: need('decoder_attention_heads'),
      key_dim_ratio: 0.5,
      conv_size: convWidth ?? 4,
      self_aug: true,
      use_key: false,
      decay: 'dynamic',
      tau: 16,
      init_std: 0.02,
    },
    channel_mixer: { name: 'glu', hidden: need('glu_dim'), act: hf.glu_act === 'gelu' ? 'gelu' : 'silu' },
    norm: 'simplermsnorm',
    // Released checkpoints: tied when the file has no lm_head (transformers ties on load).
    tie_embeddings: !names.has('lm_head.weight'),
    init_std: 0.02,
    max_seq_len: 2048,
  };
}

/** Copy file values into our layout: `linear` params are the 2-D transpose of the file's view. */
export function toOurLayout(spec: ParamSpec, data: Float32Array): Float32Array {
  if (spec.layout !== 'linear') return data;
  const [r, c] = spec.shape as [number, number];
  const out = new Float32Array(data.length);
  // file view [c, r] → ours [r, c]
  for (let i = 0; i < c; i++) for (let j = 0; j < r; j++) out[j * c + i] = data[i * r + j]!;
  return out;
}

export function toFileLayout(spec: ParamSpec, data: Float32Array): Float32Array {
  if (spec.layout !== 'linear') return data;
  const [r, c] = spec.shape as [number, number];
  const out = new Float32Array(data.length);
  for (let i = 0; i < c; i++) for (let j = 0; j < r; j++) out[i * r + j] = data[j * c + i]!;
  return out;
}

/** Assign every parameter from a tensor map; any missing, misshapen or unexpected tensor is an error. */
export function assignParams(params: Params, tensors: Map<string, { shape: number[]; data: Float32Array }>, where: string): void {
  checkParams(params, tensors, where);
  for (const [name, spec] of params.specs) {
    const v = params.vars.get(name)!;
    const vals = tf.tensor(toOurLayout(spec, tensors.get(name)!.data), spec.shape, 'float32');
    v.assign(vals);
    vals.dispose();
  }
}

/** Every parameter present with its file shape, and nothing else. */
function checkParams(params: Params, tensors: Map<string, { shape: number[]; data: Float32Array }>, where: string): void {
  for (const [name, spec] of params.specs) {
    const t = tensors.get(name);
    if (t === undefined) throw new InputError(`${where}: tensor '${name}' is missing (expected shape [${spec.fileShape}]). The checkpoint does not match its config.json`);
    if (t.shape.length !== spec.fileShape.length || t.shape.some((s, i) => s !== spec.fileShape[i])) {
      throw new InputError(`${where}: tensor '${name}' has shape [${t.shape}], expected [${spec.fileShape}]. The checkpoint does not match its config.json`);
    }
  }
  for (const name of tensors.keys()) {
    if (!params.specs.has(name)) throw new InputError(`${where}: unexpected tensor '${name}' (not part of the model described by config.json)`);
  }
}

/** Read all parameters as file-layout float32 arrays. */
export async function exportParams(params: Params): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  if (params.stacked) throw new Error('internal: stacked parameters export per replica (exportReplicaParams)');
  return (await exportReplicaParams(params))[0]!;
}

/** Each stacked replica's parameters (train.stack), as `exportParams` gives one model's. */
export async function exportReplicaParams(params: Params): Promise<Map<string, { shape: number[]; data: Float32Array }>[]> {
  const R = params.stacked ? params.replicas : 1;
  const out = Array.from({ length: R }, () => new Map<string, { shape: number[]; data: Float32Array }>());
  for (const [name, spec] of params.specs) {
    const data = (await params.vars.get(name)!.data()) as Float32Array;
    const n = data.length / R;
    for (let r = 0; r < R; r++) out[r]!.set(name, { shape: spec.fileShape, data: toFileLayout(spec, R === 1 ? data : data.slice(r * n, (r + 1) * n)) });
  }
  return out;
}

/** Stacked replicas: replica r's parameters from `tensors[r]` (a checkpoint each, checked as `assignParams`). */
export function assignReplicaParams(params: Params, tensors: readonly Map<string, { shape: number[]; data: Float32Array }>[], where: readonly string[]): void {
  const R = params.replicas;
  if (!params.stacked || tensors.length !== R) throw new Error(`internal: ${tensors.length} checkpoints for a stack of ${R}`);
  tensors.forEach((t, r) => checkParams(params, t, where[r]!));
  for (const [name, spec] of params.specs) {
    const v = params.vars.get(name)!;
    const n = v.size / R;
    const all = new Float32Array(v.size);
    tensors.forEach((t, r) => all.set(toOurLayout(spec, t.get(name)!.data), r * n));
    const vals = tf.tensor(all, v.shape, 'float32');
    v.assign(vals);
    vals.dispose();
  }
}

type TensorMap = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * The weights of a checkpoint folder: model.safetensors, or a sharded Hugging Face checkpoint
 * (model.safetensors.index.json whose weight_map names, for every tensor, the shard file in the
 * same folder). Every value must be finite: NaN or Inf weights (a run that diverged, a damaged
 * file) are an error here rather than NaN logits later.
 */
export async function readCheckpointTensors(dir: string): Promise<{ tensors: TensorMap; source: string }> {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  let tensors: TensorMap;
  let source: string;
  if (existsSync(single)) {
    tensors = (await readSafetensors(single)).tensors;
    source = single;
  } else if (existsSync(index)) {
    let map: Record<string, unknown>;
    try {
      const j = JSON.parse(await readFile(index, 'utf8')) as { weight_map?: unknown };
      if (typeof j.weight_map !== 'object' || j.weight_map === null || Array.isArray(j.weight_map)) throw new Error('no weight_map object');
      map = j.weight_map as Record<string, unknown>;
    } catch (e) {
      throw new InputError(`${index}: not a sharded-checkpoint index (${(e as Error).message}). It needs {"weight_map": {"<tensor>": "<shard>.safetensors", …}}`);
    }
    const byShard = new Map<string, Set<string>>();
    for (const [name, shard] of Object.entries(map)) {
      // Shards live beside the index: a plain file name, never a path out of the folder.
      if (typeof shard !== 'string' || shard === '' || shard !== basename(shard) || shard === '.' || shard === '..') {
        throw new InputError(`${index}: weight_map.${name}: '${String(shard)}' is not a shard file name in this folder`);
      }
      byShard.set(shard, (byShard.get(shard) ?? new Set()).add(name));
    }
    tensors = new Map();
    for (const [shard, names] of byShard) {
      const file = join(dir, shard);
      if (!existsSync(file)) throw new InputError(`${file}: shard listed in ${basename(index)} is missing. Download every shard of the checkpoint`);
      const got = (await readSafetensors(file, names)).tensors;
      for (const n of names) {
        const t = got.get(n);
        if (t === undefined) throw new InputError(`${file}: tensor '${n}' listed for this shard in ${basename(index)} is not in it`);
        tensors.set(n, t);
      }
    }
    source = index;
  } else {
    throw new InputError(`${single}: missing. A checkpoint folder needs config.json and model.safetensors (or a sharded model.safetensors.index.json)`);
  }
  for (const [name, t] of tensors) {
    let bad = 0;
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i]!)) bad++;
    if (bad > 0) throw new InputError(`${source}: tensor '${name}' has ${bad} non-finite value(s) (NaN or Inf): the weights are damaged or come from a diverged run. Use an earlier checkpoint`);
  }
  return { tensors, source };
}

/**
 * Load a checkpoint folder (official MetaLA HF release or one of ours) as a CausalLM.
 * The backend must be initialised (see backend/index.ts); weights are converted once to float32.
 */
export async function loadCheckpoint(dir: string, opts: { seed?: number } = {}): Promise<CausalLM> {
  const cfgFile = join(dir, 'config.json');
  if (!existsSync(dir)) throw new InputError(`${dir}: checkpoint folder not found. Pass a folder with config.json and model.safetensors`);
  if (!existsSync(cfgFile)) throw new InputError(`${cfgFile}: missing. A checkpoint folder needs config.json and model.safetensors`);
  let raw: HfMetalaConfig;
  try {
    raw = JSON.parse(await readFile(cfgFile, 'utf8')) as HfMetalaConfig;
  } catch (e) {
    throw new InputError(`${cfgFile}: not valid JSON (${(e as Error).message})`);
  }
  const { tensors, source: stFile } = await readCheckpointTensors(dir);
  let config: LmConfig;
  if (raw.metala_model !== undefined) {
    const parsed = lmSchema.safeParse(raw.metala_model);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(`${cfgFile}: metala_model.${issue.path.join('.')}: ${issue.message}`);
    }
    config = parsed.data as LmConfig;
  } else if (raw.model_type === 'metala') {
    const conv = tensors.get('model.layers.0.token_mixer.conv1d.weight');
    config = fromHfConfig(raw, cfgFile, new Set(tensors.keys()), conv?.shape[2]);
  } else {
    throw new InputError(`${cfgFile}: model_type '${raw.model_type ?? '(none)'}' is not a MetaLA checkpoint, and there is no metala_model key`);
  }
  let model: CausalLM;
  try {
    model = new CausalLM(config, opts.seed ?? 0);
  } catch (e) {
    // e.g. heads that do not divide the width: the config describes no model metala can build
    throw new InputError(`${cfgFile}: ${(e as Error).message.split('\n')[0]}. Fix config.json`);
  }
  try {
    assignParams(model.params, tensors, stFile);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** HF-compatible keys for a MetaLA-mixer model, so the official loader can read our folders too. */
function hfKeys(c: LmConfig): Record<string, unknown> {
  const m = c.mixer as Record<string, unknown>;
  const compatible =
    m['name'] === 'metala' && m['key_dim_ratio'] === 0.5 && m['self_aug'] === true && m['use_key'] === false && m['decay'] === 'dynamic' && m['tau'] === 16 && c.channel_mixer.name === 'glu' && c.norm === 'simplermsnorm';
  if (!compatible) return {};
  return {
    model_type: 'metala',
    vocab_size: c.vocab_size,
    decoder_embed_dim: c.d_model,
    decoder_layers: c.n_layers,
    decoder_attention_heads: m['num_heads'],
    glu_dim: c.channel_mixer.hidden ?? Math.ceil((8 * c.d_model) / 3 / 8) * 8,
    glu_act: c.channel_mixer.act,
    norm_type: 'simplermsnorm',
    no_scale_embedding: true,
    tie_word_embeddings: c.tie_embeddings,
  };
}

/** Write config.json + model.safetensors into `dir` atomically (temp folder, then rename). */
export async function saveCheckpoint(
  dir: string,
  model: TrainableModel,
  extra: Record<string, unknown> = {},
  extraFiles: Record<string, string | Buffer> = {},
): Promise<void> {
  await saveCheckpointTensors(dir, model.config, await exportParams(model.params), extra, extraFiles);
}

/** `saveCheckpoint` from parameters already read (one replica of a stack: exportReplicaParams). */
export async function saveCheckpointTensors(
  dir: string,
  config: TrainableModel['config'],
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  extra: Record<string, unknown> = {},
  extraFiles: Record<string, string | Buffer> = {},
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const lm = (config.backbone ?? 'lm') === 'lm' ? hfKeys(config as LmConfig) : {};
  const cfg = { ...lm, metala_model: config, ...extra };
  await writeFile(join(tmp, 'config.json'), JSON.stringify(cfg, null, 1));
  await writeFile(join(tmp, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  for (const [name, data] of Object.entries(extraFiles)) await writeFile(join(tmp, name), data);
  await swapDir(tmp, dir);
}

/** Replace `dir` with `tmp` so a reader never sees a half-written folder. */
export async function swapDir(tmp: string, dir: string): Promise<void> {
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}
