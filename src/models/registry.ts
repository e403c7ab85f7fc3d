// The only list of backbones (`model.backbone:`); each takes any registered mixer by name.
import type { BackboneDef } from './types.js';
import { lmBackbone } from './lm_backbone.js';
import { vitBackbone } from './vit_backbone.js';
import { classifierBackbone } from './classifier_backbone.js';
import { iclBackbone } from './icl_backbone.js';

export const BACKBONES = {
  lm: lmBackbone,
  vit: vitBackbone,
  classifier: classifierBackbone,
  icl: iclBackbone,
} satisfies Record<string, BackboneDef> as Readonly<Record<string, BackboneDef>>;
