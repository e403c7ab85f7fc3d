// Causal language-model backbone config (MQAR, language modelling, zero-shot scoring).
// Mixer options are validated separately against the mixer registry (config/schema.ts).
import { z } from 'zod';
import { channelMixerSchema } from './channel_mixer.js';

export const lmSchema = z
  .object({
    backbone: z.literal('lm').default('lm'),
    d_model: z.number().int().positive(),
    n_layers: z.number().int().positive(),
    /** Defaults to the task's vocabulary. */
    vocab_size: z.number().int().positive().optional(),
    /** `{ name: <mixer>, ...options }`; checked against the mixer registry. */
    mixer: z.looseObject({ name: z.string() }),
    channel_mixer: channelMixerSchema.default({ name: 'glu', act: 'silu' }),
    /** Block norms. Official HF code: weightless RMSNorm (eps 1e-6); Zoology: LayerNorm. */
    norm: z.enum(['simplermsnorm', 'layernorm']).default('simplermsnorm'),
    tie_embeddings: z.boolean().default(false),
    /** N(0, init_std) for embeddings and every dense layer (HF `_init_weights`). */
    init_std: z.number().positive().default(0.02),
    /** Longest sequence the model is built for (softmax/SSM position tables). */
    max_seq_len: z.number().int().positive().default(2048),
  })
  .strict();

export type LmConfig = z.infer<typeof lmSchema> & { vocab_size: number };
