// Declarative zero-shot task configs in lm-evaluation-harness v0.4's YAML shape
// (configs/tasks/<task>.yaml; reference-implementations.md §4.2, style-models.md §5): dataset
// location, prompt templates, `!function` hooks, metrics. `include:` inherits another task file.
// metala's additions live under `metadata:` (paper_metric, the column the paper reports).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, InputError } from '../util/errors.js';
import { unknownNameMessage } from '../util/registry.js';
import { FunctionRef } from './template.js';

export const METRICS = ['acc', 'acc_norm', 'f1', 'em', 'perplexity'] as const;
export type MetricId = (typeof METRICS)[number];

const fnRef = z.instanceof(FunctionRef);
const metricEntry = z
  .object({
    metric: z.enum(METRICS),
    aggregation: z.string().optional(),
    higher_is_better: z.boolean().optional(),
    /** `em`: document fields that identify a question (MultiRC: idx.paragraph, idx.question). */
    group_by: z.array(z.string()).optional(),
  })
  .strict();

export const taskConfigSchema = z
  .object({
    task: z.string(),
    tag: z.union([z.string(), z.array(z.string())]).optional(),
    /** Hugging Face dataset id and config (what `metala data fetch <task>` downloads). */
    dataset_path: z.string(),
    dataset_name: z.string().nullable().default(null),
    output_type: z.enum(['multiple_choice', 'loglikelihood']),
    training_split: z.string().nullable().optional(),
    validation_split: z.string().nullable().optional(),
    test_split: z.string().nullable().optional(),
    process_docs: fnRef.optional(),
    doc_to_text: z.union([z.string(), z.number(), fnRef]),
    doc_to_target: z.union([z.string(), z.number(), fnRef]),
    doc_to_choice: z.union([z.string(), z.array(z.string()), fnRef]).optional(),
    target_delimiter: z.string().default(' '),
    description: z.string().default(''),
    num_fewshot: z.literal(0).default(0),
    metric_list: z.array(metricEntry).min(1),
    metadata: z.looseObject({ version: z.number(), paper_metric: z.enum(METRICS) }),
  })
  .strict();

export type TaskConfig = z.output<typeof taskConfigSchema>;

/** YAML custom tag: `!function module.name` → FunctionRef (resolved in functions.ts). */
const FUNCTION_TAG = { tag: '!function', resolve: (s: string) => new FunctionRef(s.trim()) };

/**
 * The folder of task YAMLs: $METALA_TASKS_DIR, else ./configs/tasks, else configs/tasks of the
 * installed package (found by walking up from this file).
 */
export function taskConfigDir(): string {
  const env = process.env['METALA_TASKS_DIR'];
  if (env !== undefined && env !== '') return resolve(env);
  const local = resolve('configs/tasks');
  if (existsSync(local)) return local;
  if (typeof import.meta.url === 'string') {
    let d = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 5; i++, d = dirname(d)) if (existsSync(join(d, 'configs', 'tasks'))) return join(d, 'configs', 'tasks');
  }
  return local;
}

/** Task names with a YAML in the folder. */
export function listTaskConfigs(dir = taskConfigDir()): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort() : [];
}

function readRaw(file: string, seen: string[]): Record<string, unknown> {
  if (seen.includes(file)) throw new ConfigError(file, 'include', `include cycle: ${[...seen, file].join(' → ')}. Remove one include`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'), { customTags: [FUNCTION_TAG] });
  } catch (e) {
    throw new ConfigError(file, '', `malformed YAML: ${(e as Error).message.split('\n')[0]}. Fix the syntax`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError(file, '', 'expected a mapping of lm-eval task keys');
  const { include, ...rest } = doc as Record<string, unknown>;
  if (include === undefined) return rest;
  if (typeof include !== 'string') throw new ConfigError(file, 'include', 'expected the path of another task YAML');
  // lm-eval semantics: the included file's keys, overridden key by key (no deep merge).
  return { ...readRaw(resolve(dirname(file), include), [...seen, file]), ...rest };
}

/** Load and validate configs/tasks/<name>.yaml. */
export function loadTaskConfig(name: string, dir = taskConfigDir()): TaskConfig {
  const file = join(dir, `${name}.yaml`);
  if (!existsSync(file)) throw new InputError(`${unknownNameMessage('zero-shot task', name, listTaskConfigs(dir))} (task YAMLs in ${dir})`);
  const raw = readRaw(file, []);
  const parsed = taskConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(file, issue.path.join('.'), `${issue.message}. Fix the task YAML (lm-eval v0.4 shape)`);
  }
  if (parsed.data.output_type === 'multiple_choice' && parsed.data.doc_to_choice === undefined) {
    throw new ConfigError(file, 'doc_to_choice', 'required for output_type multiple_choice. Add the choices');
  }
  return parsed.data;
}

/** lm-eval's evaluation split: test if the task has one, else validation. */
export function evalSplit(cfg: TaskConfig): string {
  const split = cfg.test_split ?? cfg.validation_split;
  if (split === undefined || split === null) throw new ConfigError(cfg.task, 'test_split', 'the task names neither a test_split nor a validation_split. Add one');
  return split;
}
