// Sequence-classifier backbone config (LRA, MetaLA Tab. 7 / Tab. A4); its registry entry is
// classifier_backbone.ts.
// Mixer options are validated separately against the mixer registry (config/schema.ts); task-derived
// fields (vocabulary, classes, longest sequence) are filled by `resolve`.
import { z } from 'zod';
import { channelMixerSchema } from './channel_mixer.js';

export const classifierSchema = z
  .object({
    backbone: z.literal('classifier').default('classifier'),
    d_model: z.number().int().positive(),
    n_layers: z.number().int().positive(),
    /** Defaults to the task's vocabulary / classes. */
    vocab_size: z.number().int().positive().optional(),
    num_classes: z.number().int().min(2).optional(),
    /** `{ name: <mixer>, ...options }`; checked against the mixer registry. */
    mixer: z.looseObject({ name: z.string() }),
    /** GLU hidden = Tab. A4's d2. */
    channel_mixer: channelMixerSchema.default({ name: 'glu', act: 'silu' }),
    /** Forward + reverse scan (models/bidirectional.ts); the paper's Retrieval, Image, Pathfinder, Path-X. */
    bidirectional: z.boolean().default(false),
    /** How the two directions merge: sum, or a learned projection of their concatenation. */
    combine: z.enum(['add', 'concat']).default('add'),
    /** `embedding`: a table over token ids (LRA); `linear`: id/(V−1) as one continuous input (pixel intensity, S4 style). */
    encoder: z.enum(['embedding', 'linear']).default('embedding'),
    /** `mean` over real positions (S4 decoder), `cls` learned first token (LRA; needs bidirectional), `last` real token. */
    pooling: z.enum(['mean', 'cls', 'last']).default('mean'),
    /** Two towers with shared weights over ids and ids2 (LRA Retrieval). */
    dual_tower: z.boolean().default(false),
    /** Dual head features: `nli` [u, v, u·v, u − v] (LRA interaction='NLI', S4 RetrievalDecoder) or `concat` [u, v]. */
    interaction: z.enum(['nli', 'concat']).default('nli'),
    /** Hidden width of the head MLP (GELU); 0 = linear head. Default: 0, or d_model for a dual tower (S4). */
    head_hidden: z.number().int().min(0).optional(),
    /** Dropout on every residual branch (mixer, channel mixer) while training. */
    dropout: z.number().min(0).max(0.9).default(0),
    /**
     * Pre-norm of every sub-layer and the final norm (no affine).
     * Porting note: MetaLA's norm on LRA is UNVERIFIED (HGRN's LRA runs used batch norm; the
     * official LM code uses a weightless RMSNorm); we default to LayerNorm, which keeps examples
     * independent so padding and batch composition never change a prediction.
     */
    norm: z.enum(['layernorm', 'simplermsnorm']).default('layernorm'),
    init_std: z.number().positive().default(0.02),
    /** Longest sequence (positions of softmax / conv tables); at least the task's length (+1 with CLS). */
    max_seq_len: z.number().int().positive().default(1024),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.pooling === 'cls' && !c.bidirectional) {
      ctx.addIssue({ code: 'custom', path: ['pooling'], message: "'cls' reads the first position, which a causal model computes from the CLS token alone; use 'last' or 'mean', or set bidirectional: true" });
    }
  });

export type ClassifierConfig = z.output<typeof classifierSchema> & { vocab_size: number; num_classes: number };
