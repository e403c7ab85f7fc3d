// One helper for every registry (mixers, tasks, tables): lookup with "did you mean".
import { MetalaError } from './errors.js';

/** Levenshtein distance, for suggestions only. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Names within edit distance 2 (or sharing a prefix), closest first. */
export function suggest(name: string, known: readonly string[]): string[] {
  return known
    .map((k) => ({ k, d: k.startsWith(name) || name.startsWith(k) ? 1 : editDistance(name, k) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((x, y) => x.d - y.d || x.k.localeCompare(y.k))
    .map((x) => x.k);
}

/** Sentence used wherever an unknown registry name is reported. */
export function unknownNameMessage(kind: string, name: string, known: readonly string[]): string {
  const close = suggest(name, known);
  const hint = close.length > 0 ? ` Did you mean: ${close.slice(0, 3).join(', ')}?` : '';
  return `unknown ${kind} '${name}'.${hint} Available: ${[...known].sort().join(', ')}`;
}

/**
 * The entry registered under `name`, or undefined. Only the registry's own keys count: a config
 * naming 'constructor' or 'toString' must not reach Object.prototype.
 */
export function entryOf<T>(registry: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(registry, name) ? registry[name] : undefined;
}

export function lookup<T>(registry: Readonly<Record<string, T>>, kind: string, name: string): T {
  const hit = entryOf(registry, name);
  if (hit === undefined) throw new MetalaError(unknownNameMessage(kind, name, Object.keys(registry)));
  return hit;
}
