// Registry entry for the in-context regression models (`model.backbone: icl`; the in-context linear
// estimation study, docs/seed-systems.md §5). The token width and the h3 filter length come from the
// task; rank defaults to full.
import { MetalaError } from '../util/errors.js';
import { InContextRegressor } from './icl.js';
import { iclSchema, type IclConfig } from './icl_config.js';
import { defineBackbone } from './types.js';

export const iclBackbone = defineBackbone({
  name: 'icl',
  description: 'one-layer linear attention or H3-style sample weighting over real-valued prompts, read at the query (in-context regression)',
  schema: iclSchema,
  readsFeatures: true,
  resolve: (cfg, task) => {
    const F = task.featureDim;
    if (F === undefined) throw new MetalaError("model.backbone: 'icl' reads real-valued prompts; use task.name: icl_linreg");
    if (cfg.d_model !== undefined && cfg.d_model !== F) throw new MetalaError(`model.d_model: ${cfg.d_model} is not the task's token width ${F} (d + 1); leave it out`);
    if (cfg.rank !== undefined && cfg.rank > F) throw new MetalaError(`model.rank: ${cfg.rank} is above the token width ${F}; use at most ${F}`);
    return { ...cfg, d_model: F, rank: cfg.rank ?? F, seq_len: task.seqLen };
  },
  create: (cfg, seed) => new InContextRegressor(cfg as IclConfig, seed),
});
