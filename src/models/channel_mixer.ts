// Channel mixers of the pre-norm block: GLU (the official MetaLA `GLU`: l3(SiLU(l1 x) ⊙ l2 x),
// paper Eq. A43), a two-layer MLP (Zoology's default state mixer), or identity (Zoology's MQAR
// figure config).
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { dense, gelu, mulSilu, silu } from '../layers/basic.js';
import type { ParamScope } from '../layers/params.js';

export const channelMixerSchema = z
  .object({
    name: z.enum(['glu', 'mlp', 'identity']).default('glu'),
    /** Hidden width; default: GLU 8d/3 rounded up to a multiple of 8 (LLaMA/NeoX style), MLP 4d. */
    hidden: z.number().int().positive().optional(),
    act: z.enum(['silu', 'gelu']).default('silu'),
  })
  .strict();
export type ChannelMixerConfig = z.infer<typeof channelMixerSchema>;

export function channelHidden(c: ChannelMixerConfig, d: number): number {
  if (c.hidden !== undefined) return c.hidden;
  return c.name === 'glu' ? Math.ceil((8 * d) / 3 / 8) * 8 : 4 * d;
}

export function channelMixerParams(c: ChannelMixerConfig, d: number): number {
  const h = channelHidden(c, d);
  if (c.name === 'glu') return 3 * d * h;
  if (c.name === 'mlp') return 2 * d * h + h + d;
  return 0;
}

/** Returns f(x [B,T,D]) → [B,T,D], or undefined for identity (the block then skips the sub-layer). */
export function createChannelMixer(
  c: ChannelMixerConfig,
  d: number,
  p: ParamScope,
  std: number,
): ((x: tf.Tensor3D) => tf.Tensor3D) | undefined {
  const h = channelHidden(c, d);
  const act = c.act === 'silu' ? silu : gelu;
  const init = { kind: 'normal', std } as const;
  if (c.name === 'glu') {
    const l1 = p.linear('l1', d, h, init).w;
    const l2 = p.linear('l2', d, h, init).w;
    const l3 = p.linear('l3', h, d, init).w;
    // SiLU(l1 x) ⊙ l2 x; with SiLU as one op that keeps only the two projections for the backward pass.
    if (c.act === 'silu') return (x) => dense(mulSilu(dense(x, l2), dense(x, l1)), l3) as tf.Tensor3D;
    return (x) => dense(tf.mul(act(dense(x, l1)), dense(x, l2)), l3) as tf.Tensor3D;
  }
  if (c.name === 'mlp') {
    const fc1 = p.linear('fc1', d, h, init, true);
    const fc2 = p.linear('fc2', h, d, init, true);
    return (x) => dense(act(dense(x, fc1.w, fc1.b)), fc2.w, fc2.b) as tf.Tensor3D;
  }
  return undefined;
}
