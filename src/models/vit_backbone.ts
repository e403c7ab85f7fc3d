// Registry entry for the image-classifier backbone (`model.backbone: vit`; MetaLA Tab. 6).
// The class count comes from the task; image size and channels are model options that the first
// batch is checked against (the backbone cannot see task options at config time).
import { MetalaError } from '../util/errors.js';
import { defineBackbone } from './types.js';
import { VisionTransformer } from './vit.js';
import { vitSchema, type VitConfig } from './vit_config.js';

export const vitBackbone = defineBackbone({
  name: 'vit',
  description: 'image classifier: patch embedding, [class token], [positions], pre-norm blocks (token mixer + channel mixer), pooled head',
  schema: vitSchema,
  resolve: (cfg, task) => {
    const k = cfg.num_classes ?? task.numClasses;
    if (k === undefined) {
      throw new MetalaError('model.backbone: vit classifies whole images but the task has no classes. Use task.name: image_classification');
    }
    return { ...cfg, num_classes: k };
  },
  create: (cfg, seed) => new VisionTransformer(cfg as VitConfig, seed),
});
