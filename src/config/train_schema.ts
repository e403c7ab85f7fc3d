// Training hyperparameters shared by every task (one loop for all; DESIGN.md §1).
import { z } from 'zod';

export const trainSchema = z
  .object({
    batch_size: z.number().int().positive(),
    /** Stop after this many optimizer steps; or give `epochs` (Zoology counts epochs). */
    max_steps: z.number().int().positive().optional(),
    epochs: z.number().positive().optional(),
    lr: z.number().positive(),
    weight_decay: z.number().min(0).default(0.1),
    betas: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.9, 0.999]),
    eps: z.number().positive().default(1e-8),
    /** Linear warmup steps, then the schedule. */
    warmup_steps: z.number().int().min(0).default(0),
    schedule: z.enum(['cosine', 'constant', 'linear']).default('cosine'),
    /** Final lr as a fraction of the peak (cosine/linear decay to it). */
    min_lr_ratio: z.number().min(0).max(1).default(0),
    /** Global-norm gradient clipping; 0 disables it. */
    grad_clip: z.number().min(0).default(1),
    /** Training-loss label smoothing ε (DeiT: 0.1); eval loss stays plain CE. No default, so run ids do not change. */
    label_smoothing: z.number().min(0).max(1).optional(),
    /**
     * Recompute each block's activations in the backward pass instead of keeping them (activation
     * checkpointing): several times less memory for about one more forward pass. No default, so run
     * ids do not change.
     */
    recompute: z.boolean().optional(),
    /**
     * Split each step's batch into micro-batches of at most this many examples and accumulate their
     * gradients (weighted by labelled positions, so the step is the full batch's up to float rounding):
     * for a batch whose activations exceed the device (WebGPU binds at most 2 GiB per buffer). Peak
     * activation memory scales with the micro-batch; a value ≥ batch_size is one micro-batch (no
     * change). No default, so run ids do not change.
     */
    micro_batch_size: z.number().int().positive().optional(),
    /** Evaluate every N steps (default: once per epoch, at least every 1000 steps). */
    eval_every: z.number().int().positive().optional(),
    /** Stop early once the eval metric passes a threshold (Zoology: accuracy above 0.99). */
    early_stop: z
      .object({ metric: z.enum(['accuracy', 'loss', 'perplexity']).default('accuracy'), above: z.number().optional(), below: z.number().optional() })
      .strict()
      .refine((e) => (e.above === undefined) !== (e.below === undefined), { message: 'give exactly one of above or below' })
      .nullable()
      .default(null),
    /** Save a resumable checkpoint every N steps (default: at every eval). */
    checkpoint_every: z.number().int().positive().optional(),
    /** Write a metrics.jsonl line every N steps. */
    log_every: z.number().int().positive().default(10),
    /**
     * Stacked sweeps (src/train/stack_loop.ts): runs of one experiment that differ only in per-run
     * settings (seed, lr, weight decay, warmup, schedule, clip, steps, eval cadence, early stop) train
     * as ONE model with a replica axis, at most N at a time; each still writes its own run folder.
     * `auto`: up to 8 on webgpu, off on the CPU backends. Like --jobs it is how runs execute, not
     * what they are: not part of the run id. Absent = off.
     */
    stack: z.union([z.literal('auto'), z.literal('off'), z.number().int().min(1).max(64)]).optional(),
  })
  .strict()
  .refine((t) => t.max_steps !== undefined || t.epochs !== undefined, {
    message: 'give max_steps or epochs',
    path: ['max_steps'],
  });

export type TrainConfig = z.infer<typeof trainSchema>;
