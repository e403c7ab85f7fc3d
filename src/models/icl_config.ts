// The one-layer models of the in-context linear estimation study (Li, Rawat, Oymak, NeurIPS 2024;
// docs/seed-systems.md §5); their registry entry is icl_backbone.ts. No mixer, embedding, norm, MLP
// or bias: those break the equivalence with one step of preconditioned gradient descent (PGD).
import { z } from 'zod';

export const iclSchema = z
  .object({
    backbone: z.literal('icl').default('icl'),
    /**
     * `linear_attention`: ŷ = (1/n)·q_{n+1}ᵀ Σ_{i≤n+1} k_i v_i; `h3` (sample weighting): the same with
     * a learned filter over lags, ŷ = (1/n)·q_{n+1}ᵀ Σ_i f_{n+1−i} k_i v_i (f init 1).
     */
    form: z.enum(['linear_attention', 'h3']).default('linear_attention'),
    /** r: W_q, W_k ∈ R^{F×r} (the low-rank study); default F, full rank. */
    rank: z.number().int().positive().optional(),
    /** Std of the normal initialisation of W_q, W_k, w_v (scaled by 1/√F). */
    init_scale: z.number().positive().default(1),
    /**
     * `dense`: every weight random. `sparse` (ours, the parameterisation of the ICL theory papers):
     * q and k read only the x part of a token (their y rows start at 0) and v reads only the label
     * (w_v = e_y). Porting note: from a dense init, linear attention can settle in the label-in-key
     * solution ŷ = (1/n)(xᵀb)Σ_i y_i (w_xᵀx_i), a rank-one PGD, when Σβ has a dominant direction: E3
     * at n = 5 stalls at risk 6.35 against the PGD optimum 5.62. From the sparse init the expected
     * gradient on those weights is 0 (odd in β), so training stays on the full-rank path.
     * Optional without a default (= dense) so that runs made before it keep their run ids.
     */
    init: z.enum(['dense', 'sparse']).optional(),
    /** Filled from the task: F = d + 1, the token width, and n + 1, the tokens of a prompt (the h3 filter's lags). */
    d_model: z.number().int().positive().optional(),
    seq_len: z.number().int().positive().optional(),
  })
  .strict();

export type IclConfig = z.output<typeof iclSchema> & { d_model: number; rank: number; seq_len: number };

/**
 * Parameters: W_q, W_k (F×r) and w_v (F): only the read channel's column of W_v reaches ŷ, so the
 * others are not kept (W_O absorbs into W_v); plus the filter f (n+1 lags) of the h3 form.
 */
export function iclParamCount(cfg: IclConfig): number {
  const F = cfg.d_model;
  return 2 * F * cfg.rank + F + (cfg.form === 'h3' ? cfg.seq_len : 0);
}
