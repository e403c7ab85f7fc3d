// The only list of token mixers. Config validation, `metala list mixers` and the contract tests
// read it; adding a mixer = one file + one line here.
import type { z } from 'zod';
import { lookup } from '../util/registry.js';
import type { MixerDef } from './types.js';
import { metala } from './metala.js';
import { softmax } from './softmax.js';
import { based } from './based.js';
import { deltanet } from './deltanet.js';
import { gatedDeltanet } from './gated_deltanet.js';
import { gla } from './gla.js';
import { linearAttn } from './linear_attn.js';
import { retnet } from './retnet.js';
import { transnormer } from './transnormer.js';
import { hgrn } from './hgrn.js';
import { rwkv4 } from './rwkv4.js';
import { lru } from './lru.js';
import { griffin } from './griffin.js';
import { s4d } from './s4d.js';
import { dss } from './dss.js';
import { h3 } from './h3.js';
import { s5 } from './s5.js';
import { mamba } from './mamba.js';
import { zeros } from './zeros.js';
import { fem } from './fem.js';
import { qtVit } from './qt_vit.js';
import { inline } from './inline.js';

export const MIXERS = {
  metala,
  softmax,
  gla,
  linear_attn: linearAttn,
  retnet,
  transnormer,
  hgrn,
  rwkv4,
  lru,
  griffin,
  based,
  deltanet,
  gated_deltanet: gatedDeltanet,
  s4d,
  dss,
  h3,
  s5,
  mamba,
  zeros,
  fem,
  qt_vit: qtVit,
  inline,
} satisfies Record<string, MixerDef> as Readonly<Record<string, MixerDef>>;

export const MIXER_NAMES = Object.keys(MIXERS);

/** A `mixer:` block of a model config: the registry name plus that mixer's options. */
export type MixerSpec = { name: string } & Record<string, unknown>;

/** `mixer:` blocks this module parsed (parseMixer's output), with their entry and options. */
const resolved = new WeakMap<MixerSpec, { def: MixerDef; opts: Record<string, unknown> }>();

/**
 * Parses a `mixer:` block's options by the mixer's schema, defaults filled: the resolved block
 * ({ name, ...options }), or zod's error and the options it read (the config loader turns that into
 * one line naming the key). A resolved block is remembered, so resolveMixer never parses it again.
 */
export function parseMixer(
  spec: MixerSpec,
): { ok: true; def: MixerDef; mixer: MixerSpec } | { ok: false; def: MixerDef; error: z.ZodError; rest: Record<string, unknown> } {
  const def = lookup<MixerDef>(MIXERS, 'mixer', spec.name);
  const { name, ...rest } = spec;
  const r = def.options.safeParse(rest);
  if (!r.success) return { ok: false, def, error: r.error, rest };
  const opts = r.data as Record<string, unknown>;
  const mixer: MixerSpec = { name, ...opts };
  resolved.set(mixer, { def, opts });
  return { ok: true, def, mixer };
}

/**
 * The one path from a `mixer:` block to a mixer: its registry entry (lookup: a one-line error with
 * suggestions for an unknown name) and its options, defaults filled. A block the config loader
 * resolved (parseMixer) is taken as parsed; any other (a checkpoint's config.json, a test, the
 * benchmarks) is parsed here, once.
 */
export function resolveMixer(spec: MixerSpec): { def: MixerDef; opts: Record<string, unknown> } {
  const known = resolved.get(spec);
  if (known !== undefined) return known;
  const r = parseMixer(spec);
  if (!r.ok) throw r.error;
  return resolved.get(r.mixer)!;
}
