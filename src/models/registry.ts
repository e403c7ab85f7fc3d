// The only list of backbones (`model.backbone:`); each takes any registered mixer by name.
import type { BackboneDef } from './types.js';
import { lmBackbone } from './lm_backbone.js';

export const BACKBONES: Record<string, BackboneDef> = {
  lm: lmBackbone as unknown as BackboneDef,
};
