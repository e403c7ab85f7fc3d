// Learning-rate schedules: linear warmup, then cosine / linear decay to min_lr_ratio·lr, or constant.
// Porting note: Zoology steps CosineAnnealingLR once per epoch; we anneal per optimizer step
// (smoother, same end points), which also serves max_steps-based configs.
import type { TrainConfig } from '../config/train_schema.js';

export function lrAt(step: number, total: number, t: Pick<TrainConfig, 'lr' | 'warmup_steps' | 'schedule' | 'min_lr_ratio'>): number {
  if (t.warmup_steps > 0 && step < t.warmup_steps) return (t.lr * (step + 1)) / t.warmup_steps;
  if (t.schedule === 'constant') return t.lr;
  const span = Math.max(1, total - t.warmup_steps);
  const p = Math.min(1, Math.max(0, (step - t.warmup_steps) / span));
  const floor = t.lr * t.min_lr_ratio;
  if (t.schedule === 'linear') return floor + (t.lr - floor) * (1 - p);
  return floor + (t.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}
