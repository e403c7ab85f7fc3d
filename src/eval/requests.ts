// Turns a document into lm-eval's log-likelihood requests (lm_eval/api/task.py
// ConfigurableTask.construct_requests, v0.4; reference-implementations.md §4.1): one
// (context, target_delimiter + choice) pair per choice, or — "multiple input" / partial scoring,
// when doc_to_text yields an int (WinoGrande, WSC273) — one (choice, delimiter + target) pair per
// choice; `loglikelihood` tasks (LAMBADA) give one (context, target) pair, no delimiter.
import { MetalaError } from '../util/errors.js';
import { docFunction } from './functions.js';
import type { TaskConfig } from './task_config.js';
import { FunctionRef, fieldOrTemplate, renderValue, type Doc } from './template.js';

export interface DocRequests {
  /** (context, continuation) string pairs, in choice order. */
  pairs: [string, string][];
  /** The choice strings (acc_norm divides by their length); [] for loglikelihood tasks. */
  choices: string[];
  /** Index of the correct choice; −1 when the target matches no choice (scored as wrong, as lm-eval). */
  gold: number;
  /** Partial scoring: the choices are contexts and one continuation is shared. */
  multipleInput: boolean;
}

type Spec = TaskConfig['doc_to_text'];

function resolveSpec(spec: Spec, doc: Doc, where: string): unknown {
  if (spec instanceof FunctionRef) return docFunction(spec.name, where)(doc);
  if (typeof spec === 'number') return spec;
  return fieldOrTemplate(spec, doc, where);
}

/** doc_to_choice: a list (items may be templates), a field name, a template yielding a list, or a function. */
export function docChoices(cfg: TaskConfig, doc: Doc): string[] {
  const where = `${cfg.task}: doc_to_choice`;
  const spec = cfg.doc_to_choice;
  if (spec === undefined) return [];
  let v: unknown;
  if (spec instanceof FunctionRef) v = docFunction(spec.name, where)(doc);
  else if (Array.isArray(spec)) v = spec.map((s) => renderValue(s, doc, where));
  else v = Object.prototype.hasOwnProperty.call(doc, spec) ? doc[spec] : renderValue(spec, doc, where);
  if (!Array.isArray(v) || v.some((c) => typeof c !== 'string')) {
    throw new MetalaError(`${where}: expected a list of strings, got ${JSON.stringify(v)?.slice(0, 80)}. Check the task YAML against the data set`);
  }
  return v as string[];
}

/** lm-eval's gold: an int index, a digit string (template render), or a choice string. */
function goldIndex(v: unknown, choices: string[], where: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v >= 0 && v < choices.length ? v : -1;
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return goldIndex(Number(v), choices, where);
    return choices.indexOf(v);
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new MetalaError(`${where}: gold is ${JSON.stringify(v)}, expected an index or a choice string. Check doc_to_target`);
}

/** The requests of one document (zero-shot: the context is description + doc_to_text). */
export function buildRequests(cfg: TaskConfig, doc: Doc): DocRequests {
  const text = resolveSpec(cfg.doc_to_text, doc, `${cfg.task}: doc_to_text`);
  const target = resolveSpec(cfg.doc_to_target, doc, `${cfg.task}: doc_to_target`);
  const delim = cfg.target_delimiter;
  if (cfg.output_type === 'loglikelihood') {
    if (typeof target !== 'string') throw new MetalaError(`${cfg.task}: doc_to_target: a loglikelihood task needs a string target, got ${JSON.stringify(target)}`);
    return { pairs: [[cfg.description + String(text), target]], choices: [], gold: 0, multipleInput: false };
  }
  const choices = docChoices(cfg, doc);
  if (typeof text === 'number') {
    // Multiple input: gold comes from doc_to_text, the target is the shared continuation.
    return {
      pairs: choices.map((c) => [cfg.description + c, `${delim}${String(target)}`]),
      choices,
      gold: goldIndex(text, choices, `${cfg.task}: doc_to_text`),
      multipleInput: true,
    };
  }
  const ctx = cfg.description + String(text);
  return {
    pairs: choices.map((c) => [ctx, `${delim}${c}`]),
    choices,
    gold: goldIndex(target, choices, `${cfg.task}: doc_to_target`),
    multipleInput: false,
  };
}
