// Image-classifier (ViT) backbone config, its parameter-count formula and the DeiT geometries
// (paper-metala.md §5.5: MetaLA Tab. 6 swaps timm's ViT attention for a linear mixer and the MLP
// for a GLU). Tiny/small = DeiT-Ti/S (Touvron et al. 2021): d 192/384, 12 layers, patch 16, 224².
// Mixer options are validated separately against the mixer registry (config/schema.ts).
import { z } from 'zod';
import { MIXERS, resolveMixer } from '../mixers/registry.js';
import { entryOf, lookup } from '../util/registry.js';
import { combineParams } from './bidirectional.js';
import { channelMixerParams, channelMixerSchema } from './channel_mixer.js';

export const vitSchema = z
  .object({
    backbone: z.literal('vit'),
    d_model: z.number().int().positive(),
    n_layers: z.number().int().positive(),
    /** `{ name: <mixer>, ...options }`; checked against the mixer registry. */
    mixer: z.looseObject({ name: z.string() }),
    /** GLU following HGRN (the authors' answer in BICLab/MetaLA issue #1); `mlp` + gelu = DeiT. */
    channel_mixer: channelMixerSchema.default({ name: 'glu', act: 'silu' }),
    /** Run every mixer in both directions (src/models/bidirectional.ts); default causal. */
    bidirectional: z.boolean().default(false),
    /** How the two directions combine (bidirectional.ts): `add`, or `concat` + a 2d×d projection. */
    bidirectional_combine: z.enum(['add', 'concat']).default('add'),
    /**
     * `two_pass`: two causal instances, forward and reversed (any mixer); `single_pass`: the mixer's
     * own non-causal form, one instance (softmax only: DeiT's attention, 4d² parameters per block).
     */
    bidirectional_form: z.enum(['two_pass', 'single_pass']).default('two_pass'),
    /** Square input side; must match the task's image_size. */
    image_size: z.number().int().positive().default(224),
    /** Input channels; must match the task's channels. */
    in_channels: z.number().int().positive().default(3),
    patch_size: z.number().int().positive().default(16),
    /** `cls`: a class token (last for causal mixers, so it sees every patch); `mean`: mean of the tokens. */
    pool: z.enum(['cls', 'mean']).default('cls'),
    /** Learned absolute position embedding (timm ViT), or none (order comes from the mixer itself). */
    pos_embed: z.enum(['learned', 'none']).default('learned'),
    /** Block norms: LayerNorm with affine (timm ViT) or weightless RMSNorm (official MetaLA code). */
    norm: z.enum(['layernorm', 'rmsnorm']).default('layernorm'),
    /** Stochastic depth: the drop rate of the last block, linear in depth (DeiT: 0.1). */
    drop_path: z.number().min(0).max(1).default(0),
    /** N(0, init_std) for every dense layer and embedding (timm: trunc_normal(0.02)). */
    init_std: z.number().positive().default(0.02),
    /** Classes; filled in from the task. */
    num_classes: z.number().int().positive().optional(),
  })
  .strict()
  .refine((c) => c.image_size % c.patch_size === 0, {
    message: 'image_size must be a multiple of patch_size (patches tile the image)',
    path: ['patch_size'],
  })
  .refine((c) => c.bidirectional_form === 'two_pass' || c.bidirectional, {
    message: "single_pass is a bidirectional form: set bidirectional: true, or drop bidirectional_form",
    path: ['bidirectional_form'],
  })
  .refine((c) => c.bidirectional_form === 'two_pass' || entryOf(MIXERS, c.mixer.name)?.createNonCausal !== undefined, {
    message: `only a mixer with a non-causal form (${Object.entries(MIXERS).filter(([, m]) => m.createNonCausal !== undefined).map(([n]) => n).join(', ')}) runs single_pass; use two_pass`,
    path: ['bidirectional_form'],
  });

export type VitConfig = z.infer<typeof vitSchema> & { num_classes: number };

/** Patches per image: (S/P)². */
export function numPatches(c: Pick<VitConfig, 'image_size' | 'patch_size'>): number {
  return (c.image_size / c.patch_size) ** 2;
}

/** Tokens the mixers see: patches plus the class token. */
export function numTokens(c: Pick<VitConfig, 'image_size' | 'patch_size' | 'pool'>): number {
  return numPatches(c) + (c.pool === 'cls' ? 1 : 0);
}

/** Mixer options parsed against the mixer's schema (defaults filled in). */
export function mixerOptions(c: Pick<VitConfig, 'mixer'>): Record<string, unknown> {
  return resolveMixer(c.mixer).opts;
}

/**
 * Parameter count from the config alone (what the model must allocate; the tests check it):
 * patch embedding P²C·d + d, [class token d], [position table T·d], L × (mixer + channel mixer +
 * 2 norms), final norm, head d·K + K. `bidirectional` (two_pass) doubles the mixer (one per direction) plus the combine projection.
 */
export function vitParamCount(c: VitConfig): number {
  const d = c.d_model;
  const def = lookup(MIXERS, 'mixer', c.mixer.name);
  const normP = c.norm === 'layernorm' ? 2 * d : 0;
  const passes = c.bidirectional && c.bidirectional_form === 'two_pass' ? 2 : 1;
  const mixer = def.paramCount(mixerOptions(c) as never, d) * passes + combineParams({ bidirectional: c.bidirectional, combine: c.bidirectional_combine, form: c.bidirectional_form }, d);
  const block = mixer + channelMixerParams(c.channel_mixer, d) + 2 * normP;
  const embed = c.patch_size * c.patch_size * c.in_channels * d + d;
  const cls = c.pool === 'cls' ? d : 0;
  const pos = c.pos_embed === 'learned' ? numTokens(c) * d : 0;
  return embed + cls + pos + c.n_layers * block + normP + d * c.num_classes + c.num_classes;
}

/** DeiT geometries (Touvron et al. 2021, Tab. 1): width, heads (softmax), depth. */
export const DEIT_GEOMETRY = {
  tiny: { d_model: 192, num_heads: 3, n_layers: 12 },
  small: { d_model: 384, num_heads: 6, n_layers: 12 },
} as const;

/** MetaLA Tab. 6 parameter counts (millions) per model and size (paper-metala.md §5.5). */
export const PAPER_TAB6_PARAMS_M: Readonly<Record<string, { tiny: number; small: number }>> = {
  softmax: { tiny: 5.7, small: 22.0 },
  hgrn: { tiny: 6.1, small: 23.7 },
  gla: { tiny: 6.1, small: 23.5 },
  mamba: { tiny: 6.1, small: 23.7 },
  metala: { tiny: 6.1, small: 23.7 },
};
