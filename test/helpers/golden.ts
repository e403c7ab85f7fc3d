// Locates ../shared/golden (beside the checkout, in CI too) and reads its JSON fixtures.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const GOLDEN = resolve(REPO, '../shared/golden');

export function readGolden<T>(rel: string): T {
  return JSON.parse(readFileSync(resolve(GOLDEN, rel), 'utf8')) as T;
}

export function maxAbsDiff(a: number[][][], b: number[][][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a[i]!.length; j++)
      for (let k = 0; k < a[i]![j]!.length; k++) m = Math.max(m, Math.abs(a[i]![j]![k]! - b[i]![j]![k]!));
  return m;
}
