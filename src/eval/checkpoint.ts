// Opens a checkpoint folder for zero-shot scoring: the model (src/checkpoint/io.ts loadCheckpoint:
// released MetaLA HF folders in fp32/bf16/fp16, or ours) plus its tokenizer and what the tables
// print beside it (parameters, training tokens). Tokenizer search order: --tokenizer, config.json
// `metala_tokenizer`, `metala_task.tokenizer` (written by the training loop), a tokenizer.json or
// *.tiktoken in the folder (the released checkpoints ship transnormer_100k.tiktoken), the run's
// ../config.json, and last the byte tokenizer for a 256-token vocabulary.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadCheckpoint } from '../checkpoint/io.js';
import type { CausalLM } from '../models/lm.js';
import { loadTokenizer, tokenizerFileIn } from '../tokenizers/index.js';
import type { Tokenizer } from '../tokenizers/types.js';
import { InputError } from '../util/errors.js';

export interface EvalCheckpoint {
  dir: string;
  /** Results go to results/eval/<name>/. */
  name: string;
  model: CausalLM;
  tokenizer: Tokenizer;
  /** Where the tokenizer came from, e.g. 'config.json metala_task.tokenizer'. */
  tokenizerFrom: string;
  /** 'official': a released MetaLA HF folder (no metala_model key); 'metala': written by metala train. */
  source: 'official' | 'metala';
  params: number;
  /** Tokens seen in training (trainer_state.json), or null when unknown (released checkpoints). */
  trainTokens: number | null;
  /** The HF config's eos_token_id, lm-eval's empty-context prefix when the tokenizer has none. */
  eosTokenId: number | undefined;
}

type Json = Record<string, unknown>;

function readJson(file: string): Json | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch {
    throw new InputError(`${file}: not valid JSON. Fix or remove it`);
  }
}

/** First tokenizer spec found for the folder, with where it was found. */
function findTokenizer(dir: string, cfg: Json, override: string | undefined): { tok: Tokenizer; from: string } | undefined {
  if (override !== undefined) return { tok: loadTokenizer(override), from: '--tokenizer' };
  const own = cfg['metala_tokenizer'];
  if (typeof own === 'string') return { tok: loadTokenizer(own, existsSync(resolve(dir, own)) ? dir : process.cwd()), from: 'config.json metala_tokenizer' };
  const task = cfg['metala_task'] as Json | undefined;
  if (typeof task?.['tokenizer'] === 'string') return { tok: loadTokenizer(task['tokenizer']), from: 'config.json metala_task.tokenizer' };
  const file = tokenizerFileIn(dir);
  if (file !== undefined) return { tok: loadTokenizer(file), from: basename(file) };
  const run = readJson(join(dir, '..', 'config.json'))?.['task'] as Json | undefined;
  if (typeof run?.['tokenizer'] === 'string') return { tok: loadTokenizer(run['tokenizer']), from: '../config.json task.tokenizer' };
  if (cfg['vocab_size'] === 256 || (cfg['metala_model'] as Json | undefined)?.['vocab_size'] === 256) {
    return { tok: loadTokenizer('byte'), from: 'vocab_size 256 → byte' };
  }
  return undefined;
}

/** Name for results/eval/<name>/: the folder name, or <run folder> for our `…/<run>/checkpoint`. */
export function checkpointName(dir: string): string {
  const abs = resolve(dir);
  const base = basename(abs) === 'checkpoint' ? `${basename(dirname(dirname(abs)))}_${basename(dirname(abs))}` : basename(abs);
  return base.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/**
 * Load a checkpoint folder and its tokenizer. The backend must be initialised.
 * @param opts.tokenizer tokenizer spec that overrides the search
 */
export async function openCheckpoint(dir: string, opts: { tokenizer?: string; name?: string } = {}): Promise<EvalCheckpoint> {
  const cfg = readJson(join(dir, 'config.json')) ?? {};
  const found = findTokenizer(dir, cfg, opts.tokenizer);
  if (found === undefined) {
    throw new InputError(`${dir}: no tokenizer found (looked for config.json metala_tokenizer, tokenizer.json, *.tiktoken, ../config.json task.tokenizer). Pass --tokenizer SPEC`);
  }
  const model = await loadCheckpoint(dir);
  if (found.tok.vocabSize > model.config.vocab_size) {
    model.dispose();
    throw new InputError(
      `${dir}: tokenizer ${found.tok.spec} (from ${found.from}) has ${found.tok.vocabSize} ids but the model's vocabulary is ${model.config.vocab_size}. Pass the checkpoint's own tokenizer with --tokenizer`,
    );
  }
  const state = readJson(join(dir, 'trainer_state.json'));
  const tokens = state?.['tokens'];
  const eos = cfg['eos_token_id'];
  return {
    dir,
    name: opts.name ?? checkpointName(dir),
    model,
    tokenizer: found.tok,
    tokenizerFrom: found.from,
    source: cfg['metala_model'] === undefined ? 'official' : 'metala',
    params: model.params.count(),
    trainTokens: typeof tokens === 'number' ? tokens : null,
    eosTokenId: typeof eos === 'number' ? eos : undefined,
  };
}
