// The only list of tasks (style-models.md §8.5): config validation, `metala list tasks` and the
// train loop read it. Adding a task family = its module plus one line here.
import { z } from 'zod';
import { lookup } from '../util/registry.js';
import { mqar } from './mqar.js';
import { imageClassification } from './image/task.js';
import { lm } from './lm/lm.js';
import { lraListops } from './lra/listops.js';
import { lraText } from './lra/text.js';
import { lraRetrieval } from './lra/retrieval.js';
import { lraImage } from './lra/image.js';
import { lraPathfinder } from './lra/pathfinder.js';
import { iclLinreg } from './icl/task.js';
import type { TaskDef } from './types.js';

export const TASKS = { mqar, image_classification: imageClassification, lm, lra_listops: lraListops, lra_text: lraText, lra_retrieval: lraRetrieval, lra_image: lraImage, lra_pathfinder: lraPathfinder, icl_linreg: iclLinreg } as const satisfies Record<string, TaskDef>;

export type TaskName = keyof typeof TASKS;

/** The task by name, or a MetalaError with "did you mean" and the list of tasks. */
export function getTask(name: string): TaskDef {
  return lookup<TaskDef>(TASKS, 'task', name);
}

/**
 * The `task:` block of a config for one task: its options plus `name`, strict, with the task's
 * cross-field `check` as zod issues (so they come back with key paths like `task.num_kv_pairs`).
 */
export function taskConfigSchema(def: TaskDef) {
  return def.options
    .extend({ name: z.literal(def.name) })
    .strict()
    .superRefine((opts, ctx) => {
      for (const p of def.check(opts)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    });
}
