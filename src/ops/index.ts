// Public API of src/ops: linear-attention recurrences as pure tensor functions, each with a naive
// step-by-step reference and faster (parallel / chunkwise) forms that agree on outputs and
// gradients. Layout: activations [B,T,H,D], state [B,H,K,V] (hgrn: [B,T,D], state [B,D]).
import { gla } from './gated_recurrence/index.js';

export * from './common/types.js';
export { gla, glaChunk, glaNaive, glaParallel, GLA_DEFAULT_CHUNK } from './gated_recurrence/index.js';

/** All recurrences by name. */
export const ops = { gla };
