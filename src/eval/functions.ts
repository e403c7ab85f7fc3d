// Named document functions for the task YAMLs (`!function hellaswag.process_docs`): TypeScript
// ports of the helpers in lm-evaluation-harness v0.4 `lm_eval/tasks/<family>/utils.py`
// (reference-implementations.md §4.2), written from their documented behaviour. One entry per
// Python function; the YAML can only name these, never run code.
import { MetalaError } from '../util/errors.js';
import { unknownNameMessage } from '../util/registry.js';
import type { Doc } from './template.js';

const str = (doc: Doc, k: string): string => {
  const v = doc[k];
  if (typeof v !== 'string') throw new MetalaError(`document field '${k}' is ${v === undefined ? 'missing' : typeof v}, expected a string. Check the data set's format`);
  return v;
};

/** Python str.capitalize(): first character upper-cased, the rest lower-cased. */
const capitalize = (s: string): string => (s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1).toLowerCase());

/** hellaswag/utils.py::preprocess — strip, WikiHow " [title]" → ". ", drop [brackets], squeeze double spaces. */
export function hellaswagPreprocess(text: string): string {
  return text.trim().replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ');
}

/** lm_eval.utils.general_detokenize (SuperGLUE WSC passages are word-tokenised). */
export function generalDetokenize(s: string): string {
  return s
    .replaceAll(" n't", "n't")
    .replaceAll(' )', ')')
    .replaceAll('( ', '(')
    .replaceAll('" ', '"')
    .replaceAll(' "', '"')
    .replace(/ (['.,])/g, '$1');
}

const UPPER_PRONOUNS = ['A', 'An', 'The', 'She', 'He', 'It', 'They', 'My', 'His', 'Her', 'Their'];

/** wsc273/utils.py::__normalize_option: possessive 's, lower-case a leading article/pronoun mid-sentence. */
function wsc273Option(doc: Doc, option: string): string {
  let o = option;
  if (['my', 'his', 'her', 'our', 'their'].includes(str(doc, 'pronoun').toLowerCase())) o += "'s";
  const first = o.split(/\s+/)[0] ?? '';
  const loc = doc['pronoun_loc'] as number;
  // Python indexing: for a pronoun at 0 or 1, text[loc - 2] wraps to the text's end (text[-2] or
  // text[-1], usually its final '.'), so upstream treats such a pronoun by how the text ends.
  const startOfSentence = str(doc, 'text').at(loc - 2) === '.';
  // Python str.replace: every occurrence of the word inside the option.
  return !startOfSentence && UPPER_PRONOUNS.includes(first) ? o.replaceAll(first, first.toLowerCase()) : o;
}

const letterIndex = (label: string): number => ['a', 'b', 'c', 'd'].indexOf(label.trim());

type DocFn = (doc: Doc) => unknown;

export const DOC_FUNCTIONS: Readonly<Record<string, DocFn>> = {
  'hellaswag.process_docs': (d) => ({
    ...d,
    query: hellaswagPreprocess(`${str(d, 'activity_label')}: ${str(d, 'ctx_a')} ${capitalize(str(d, 'ctx_b'))}`),
    choices: (d['endings'] as string[]).map(hellaswagPreprocess),
    gold: Number(d['label']),
  }),
  // Partial scoring: contexts differ per option, the continuation after the blank is shared.
  'winogrande.doc_to_text': (d) => ({ '1': 0, '2': 1 })[str(d, 'answer')],
  'winogrande.doc_to_target': (d) => str(d, 'sentence').slice(str(d, 'sentence').indexOf('_') + 1).trim(),
  'winogrande.doc_to_choice': (d) => {
    const s = str(d, 'sentence');
    const i = s.indexOf('_');
    return [str(d, 'option1'), str(d, 'option2')].map((o) => s.slice(0, i) + o);
  },
  'wsc273.process_docs': (d) => {
    const opts = d['options'] as string[];
    const doc = { ...d, text: str(d, 'text').replaceAll('  ', ' ') };
    return { ...doc, options: opts.map((o) => wsc273Option(doc, o)) };
  },
  'wsc273.doc_to_choice': (d) => (d['options'] as string[]).map((o) => str(d, 'text').slice(0, d['pronoun_loc'] as number) + o),
  'wsc273.doc_to_target': (d) => str(d, 'text').slice((d['pronoun_loc'] as number) + str(d, 'pronoun').length),
  'logiqa.doc_to_text': (d) => {
    const opts = d['options'] as string[];
    const lines = opts.map((o, i) => `${'ABCD'[i]}. ${o}\n`).join('');
    return `Passage: ${str(d, 'context')}\nQuestion: ${str(d, 'question')}\nChoices:\n${lines}Answer:`;
  },
  'logiqa.doc_to_target': (d) => letterIndex(str(d, 'label')),
  'copa.doc_to_text': (d) => {
    const connector = ({ cause: 'because', effect: 'therefore' } as Record<string, string>)[str(d, 'question')];
    return `${str(d, 'premise').trim().slice(0, -1)} ${connector}`;
  },
  'copa.doc_to_choice': (d) => [str(d, 'choice1'), str(d, 'choice2')].map((c) => ` ${c[0]!.toLowerCase()}${c.slice(1)}`),
  'copa.doc_to_target': (d) => {
    const c = d['label'] === 0 ? str(d, 'choice1') : str(d, 'choice2');
    return ` ${c[0]!.toLowerCase()}${c.slice(1)}`;
  },
  // super_glue/wsc/preprocess_wsc.py::default_doc_to_text (span indices are word indices).
  'wsc.doc_to_text': (d) => {
    const raw = str(d, 'text');
    const pronoun = str(d, 'span2_text');
    const pre = raw.split(/\s+/).filter((w) => w !== '').slice(0, d['span2_index'] as number).join(' ');
    const post = raw.slice(pre.length + pronoun.length + 1);
    const passage = generalDetokenize(`${pre} *${pronoun}*${post}`);
    return `Passage: ${passage}\nQuestion: In the passage above, does the pronoun "*${pronoun}*" refer to "*${str(d, 'span1_text')}*"?\nAnswer:`;
  },
  'wic.doc_to_text': (d) => {
    const word = str(d, 'sentence1').slice(d['start1'] as number, d['end1'] as number);
    return `Sentence 1: ${str(d, 'sentence1')}\nSentence 2: ${str(d, 'sentence2')}\nQuestion: Is the word '${word}' used in the same way in the two sentences above?\nAnswer:`;
  },
  // lm-eval writes these two as templates with .index(); here they are named functions.
  'arc.doc_to_target': (d) => {
    const c = d['choices'] as { label: string[] };
    return c.label.indexOf(str(d, 'answerKey'));
  },
  'openbookqa.doc_to_target': (d) => {
    const c = d['choices'] as { label: string[] };
    return c.label.indexOf(str(d, 'answerKey').trimStart());
  },
  'lambada.doc_to_text': (d) => str(d, 'text').split(' ').slice(0, -1).join(' '),
  'lambada.doc_to_target': (d) => ` ${str(d, 'text').split(' ').at(-1)!}`,
};

/** Look up a named function, with suggestions for typos. */
export function docFunction(name: string, where: string): DocFn {
  const fn = Object.prototype.hasOwnProperty.call(DOC_FUNCTIONS, name) ? DOC_FUNCTIONS[name] : undefined;
  if (fn === undefined) throw new MetalaError(`${where}: ${unknownNameMessage('!function', name, Object.keys(DOC_FUNCTIONS))}`);
  return fn;
}
