// Registry entry for the sequence-classifier backbone (`model.backbone: classifier`; LRA, MetaLA
// Tab. 7): task-derived fields (vocabulary, classes, longest sequence) are filled by `resolve`.
import { MetalaError } from '../util/errors.js';
import { SequenceClassifier } from './classifier.js';
import { classifierSchema, type ClassifierConfig } from './classifier_config.js';
import { defineBackbone } from './types.js';

export const classifierBackbone = defineBackbone({
  name: 'classifier',
  description: 'sequence classifier: token/pixel encoder, pre-norm blocks of any mixer (optionally bidirectional), mean/CLS/last pooling, linear/MLP or dual-tower head',
  schema: classifierSchema,
  resolve: (cfg, task) => {
    const classes = cfg.num_classes ?? task.numClasses;
    if (classes === undefined) {
      throw new MetalaError("model.backbone: 'classifier' needs a sequence-level task (one label per example, e.g. lra_listops). Use backbone 'lm' for token-level tasks");
    }
    return {
      ...cfg,
      vocab_size: cfg.vocab_size ?? task.vocabSize,
      num_classes: classes,
      max_seq_len: Math.max(cfg.max_seq_len, task.seqLen + (cfg.pooling === 'cls' ? 1 : 0)),
    };
  },
  create: (cfg, seed) => new SequenceClassifier(cfg as ClassifierConfig, seed),
});
