// The experiment schema: top-level keys, with the task, model and mixer parts delegated to their
// registries (one list of mixers, one of tasks: adding a plug-in extends what a valid YAML is).
import { z } from 'zod';
import { BACKENDS } from '../backend/types.js';
import { trainSchema } from './train_schema.js';
import type { ClassifierConfig } from '../models/classifier_config.js';
import type { IclConfig } from '../models/icl_config.js';
import type { LmConfig } from '../models/lm_config.js';
import type { VitConfig } from '../models/vit_config.js';

/**
 * How the runs of an experiment execute (not what they are, so not part of any run id):
 * `local` (default) trains them in this process (or --jobs children); `slurm` submits a job array.
 */
export const executorSchema = z
  .object({
    name: z.enum(['local', 'slurm']).default('local'),
    /** sbatch --partition */
    partition: z.string().min(1).optional(),
    /** sbatch --gres, e.g. gpu:1 */
    gres: z.string().min(1).optional(),
    /** sbatch --time: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS */
    time: z.string().regex(/^(\d+-)?\d+(:\d{2}){0,2}$/, 'use minutes, HH:MM:SS or D-HH:MM:SS').optional(),
    /** at most this many array tasks at once (sbatch --array=…%N) */
    array_parallel: z.number().int().positive().optional(),
    /** extra `#SBATCH` lines, e.g. ['--account=lab', '--mem=16G'] */
    sbatch: z.array(z.string().min(1)).default([]),
    /** seconds before the time limit at which Slurm signals a task to checkpoint and requeue */
    signal_seconds: z.number().int().positive().default(120),
  })
  .strict();
export type ExecutorConfig = z.infer<typeof executorSchema>;

/** Keys every experiment file may have; `include`/`extends` are resolved before validation. */
export const experimentSchema = z
  .object({
    /** Results go to results/<name>/<run-id>/ (default: the config path under configs/). */
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.\-/]+$/, 'use letters, digits, _ . - /')
      // The experiment's folder under --results: no absolute path, no '..' or '.' segment, no empty segment.
      .refine((n) => !n.startsWith('/') && n.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'), 'must stay inside --results: a relative path without . or .. segments, e.g. mqar/fig3')
      .optional(),
    description: z.string().optional(),
    seed: z.number().int().min(0).default(0),
    backend: z.enum(BACKENDS).optional(),
    executor: executorSchema.optional(),
    task: z.looseObject({ name: z.string() }),
    /** `backbone:` (default lm) picks the schema the rest is validated against (models/registry.ts). */
    model: z.looseObject({ backbone: z.string().optional(), mixer: z.looseObject({ name: z.string() }).optional() }),
    train: trainSchema,
    /**
     * Grid over dotted paths: `{ train.lr: [1e-4, 1e-3], model.d_model: [64, 128] }`, or a list of
     * grids whose runs are united (different LR sets per sequence length, as Fig. 3).
     */
    sweep: z.union([z.record(z.string(), z.array(z.unknown()).min(1)), z.array(z.record(z.string(), z.array(z.unknown()).min(1)))]).optional(),
    /** Named rows (ablations): `{ wo_self_aug: { model.mixer.self_aug: false } }`. */
    variants: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  })
  .strict();

export type Experiment = z.infer<typeof experimentSchema>;

/** A resolved `model:` block: one backbone's config, discriminated by `backbone`. */
export type ModelSpec = LmConfig | ClassifierConfig | VitConfig | IclConfig;

/** One fully resolved run: no sweep/variants left, every default filled in. */
export interface RunSpec {
  experiment: string;
  run_id: string;
  /** Variant name when expanded from `variants:`. */
  variant?: string;
  /** The dotted-path values this run took from `sweep:` / `variants:`. */
  point: Record<string, unknown>;
  seed: number;
  task: { name: string } & Record<string, unknown>;
  /** Validated by its backbone's schema, task-derived fields (vocab, classes) filled in; `backbone` tells which. */
  model: ModelSpec;
  train: z.infer<typeof trainSchema>;
}
