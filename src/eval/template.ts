// The template language of the zero-shot task YAMLs: the small subset of lm-eval's Jinja that
// its commonsense/SuperGLUE configs use (style-models.md §8.6) — `{{field}}`, `{{a.b[0]}}`,
// `{{[sol1, sol2]}}` — and lm-eval's rules for when a doc_to_* value is a field name, a template
// or a literal (lm_eval/api/task.py ConfigurableTask.doc_to_text/target/choice, v0.4).
// Anything more is a named function (functions.ts), never code from a config.
import { MetalaError } from '../util/errors.js';

export type Doc = Record<string, unknown>;

/** A `!function module.name` reference from a task YAML. */
export class FunctionRef {
  constructor(readonly name: string) {}
}

const PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[-?\d+\])*$/;

/** Value of a path like `choices.text` or `endings[0]` (negative indices count from the end). */
export function getPath(doc: Doc, path: string): unknown {
  let cur: unknown = doc;
  for (const m of path.matchAll(/([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]/g)) {
    if (m[1] !== undefined) cur = typeof cur === 'object' && cur !== null ? (cur as Doc)[m[1]] : undefined;
    else {
      const arr = cur as unknown[];
      const i = Number(m[2]);
      cur = Array.isArray(arr) ? arr[i < 0 ? arr.length + i : i] : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Split a list literal's body on top-level commas. */
function splitTopLevel(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of body) {
    if (c === '[') depth++;
    if (c === ']') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur);
  return out;
}

/** Evaluate one `{{ … }}` expression: a path, a quoted string, an integer, or a list of those. */
export function evalExpr(expr: string, doc: Doc, where: string): unknown {
  const e = expr.trim();
  if (e.startsWith('[') && e.endsWith(']')) return splitTopLevel(e.slice(1, -1)).map((x) => evalExpr(x, doc, where));
  if (/^-?\d+$/.test(e)) return Number(e);
  const q = /^(['"])(.*)\1$/s.exec(e);
  if (q !== null) return q[2];
  if (!PATH.test(e)) {
    throw new MetalaError(`${where}: template expression '{{${expr}}}' is not supported (only fields, a.b[0] paths, quoted strings and [x, y] lists). Use a !function for anything else`);
  }
  const v = getPath(doc, e);
  if (v === undefined) throw new MetalaError(`${where}: template field '${e}' is not in the document (fields: ${Object.keys(doc).join(', ')}). Check the task YAML against the data set`);
  return v;
}

/**
 * Render a template. A template that is exactly one `{{expr}}` returns the expression's value
 * (a list for doc_to_choice, a number for doc_to_target), as lm-eval's literal_eval of the render.
 */
export function renderValue(template: string, doc: Doc, where: string): unknown {
  const whole = /^\{\{([\s\S]*?)\}\}$/.exec(template);
  if (whole !== null && !whole[1]!.includes('}}')) return evalExpr(whole[1]!, doc, where);
  return template.replace(/\{\{([\s\S]*?)\}\}/g, (_m, e: string) => {
    const v = evalExpr(e, doc, where);
    return Array.isArray(v) ? JSON.stringify(v) : String(v);
  });
}

/** lm-eval's rule for doc_to_text / doc_to_target strings: a document field by name, else a template. */
export function fieldOrTemplate(spec: string, doc: Doc, where: string): unknown {
  return Object.prototype.hasOwnProperty.call(doc, spec) ? doc[spec] : renderValue(spec, doc, where);
}
