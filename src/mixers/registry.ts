// The only list of token mixers. Config validation, `metala list mixers` and the contract tests
// read it; adding a mixer = one file + one line here.
import type { MixerDef } from './types.js';
import { metala } from './metala.js';
import { softmax } from './softmax.js';

export const MIXERS: Record<string, MixerDef> = {
  metala: metala as unknown as MixerDef,
  softmax: softmax as unknown as MixerDef,
};

export const MIXER_NAMES = Object.keys(MIXERS);
