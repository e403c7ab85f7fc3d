// Registry entry for the causal LM backbone (MQAR, language modelling, zero-shot scoring).
import { CausalLM } from './lm.js';
import { resolveMixer } from '../mixers/registry.js';
import { lmSchema, type LmConfig } from './lm_config.js';
import { defineBackbone } from './types.js';

export const lmBackbone = defineBackbone({
  name: 'lm',
  description: 'causal LM: embedding, pre-norm blocks (token mixer + channel mixer), final norm, LM head',
  schema: lmSchema,
  resolve: (cfg, task) => ({ ...cfg, vocab_size: cfg.vocab_size ?? task.vocabSize, max_seq_len: Math.max(cfg.max_seq_len, task.seqLen) }),
  create: (cfg, seed) => new CausalLM(cfg as LmConfig, seed),
  stack: {
    cannot: (cfg) => {
      const { def } = resolveMixer((cfg as LmConfig).mixer);
      return def.stacks === true ? undefined : `mixer ${def.name} does not support stacked replicas yet`;
    },
    create: (cfg, seeds) => new CausalLM(cfg as LmConfig, seeds),
  },
});
