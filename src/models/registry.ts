// The only list of backbones (`model.backbone:`); each takes any registered mixer by name.
import type { BackboneDef } from './types.js';
import { lmBackbone } from './lm_backbone.js';
import { vitBackbone } from './vit_backbone.js';
import { classifierBackbone } from './classifier_config.js';

export const BACKBONES: Record<string, BackboneDef> = {
  lm: lmBackbone as unknown as BackboneDef,
  vit: vitBackbone as unknown as BackboneDef,
  classifier: classifierBackbone as unknown as BackboneDef,
};
