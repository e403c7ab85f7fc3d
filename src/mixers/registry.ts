// The only list of token mixers. Config validation, `metala list mixers` and the contract tests
// read it; adding a mixer = one file + one line here.
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

export const MIXERS: Record<string, MixerDef> = {
  metala: metala as unknown as MixerDef,
  softmax: softmax as unknown as MixerDef,
  gla: gla as unknown as MixerDef,
  linear_attn: linearAttn as unknown as MixerDef,
  retnet: retnet as unknown as MixerDef,
  transnormer: transnormer as unknown as MixerDef,
  hgrn: hgrn as unknown as MixerDef,
  rwkv4: rwkv4 as unknown as MixerDef,
  lru: lru as unknown as MixerDef,
  griffin: griffin as unknown as MixerDef,
  based: based as unknown as MixerDef,
  deltanet: deltanet as unknown as MixerDef,
  gated_deltanet: gatedDeltanet as unknown as MixerDef,
  s4d: s4d as unknown as MixerDef,
  dss: dss as unknown as MixerDef,
  h3: h3 as unknown as MixerDef,
  s5: s5 as unknown as MixerDef,
  mamba: mamba as unknown as MixerDef,
};

export const MIXER_NAMES = Object.keys(MIXERS);
