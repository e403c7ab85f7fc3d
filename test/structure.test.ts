// The layering of src/ (style-models.md): runtime imports (not `import type`) form no circle between
// files, and an import between two top-level folders only goes down this order, so a lower layer
// never loads an upper one. A new folder has to be placed in LAYERS before it can import anything.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/golden.js';

/** Bottom to top; a folder may import from folders before it, never after it. */
const LAYERS = [
  'util',
  'data',
  'tokenizers',
  'backend',
  'ops',
  'layers',
  'mixers',
  'models',
  'checkpoint',
  'golden',
  'tasks',
  'results',
  'config',
  'train',
  'eval',
  'bench',
  'report',
  'tools',
  'cli',
  'index',
] as const;

const SRC = resolve(REPO, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Runtime imports and re-exports of a file (relative specifiers only), as absolute .ts paths. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'(\.[^']+)'/gm)) {
    if (m[1] !== undefined) continue;
    out.push(resolve(dirname(file), m[2]!).replace(/\.js$/, '.ts'));
  }
  return out;
}

const layerOf = (file: string): string => relative(SRC, file).split('/')[0]!.replace(/\.ts$/, '');

describe('src/ layering', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((f) => [f, runtimeImports(f)]));

  it('every top-level folder has a layer', () => {
    const folders = [...new Set(files.map(layerOf))].sort();
    expect(folders.filter((f) => !(LAYERS as readonly string[]).includes(f))).toEqual([]);
  });

  it('imports between folders only go down a layer', () => {
    const rank = (f: string) => (LAYERS as readonly string[]).indexOf(layerOf(f));
    const up: string[] = [];
    for (const [f, deps] of graph) for (const d of deps) if (rank(d) > rank(f)) up.push(`${relative(SRC, f)} -> ${relative(SRC, d)}`);
    expect(up).toEqual([]);
  });

  it('no import circle between files', () => {
    // Depth-first search with colours; reports the first circle found as a path.
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    let circle: string[] | undefined;
    const visit = (f: string): void => {
      if (circle !== undefined || state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        circle = stack.slice(stack.indexOf(f)).concat(f).map((p) => relative(SRC, p));
        return;
      }
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) visit(d);
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) visit(f);
    expect(circle).toBeUndefined();
  });

  it('the import scan sees imports (a check that cannot pass on an empty graph)', () => {
    expect(graph.get(resolve(SRC, 'mixers/gla.ts'))).toContain(resolve(SRC, 'mixers/common.ts'));
    expect([...graph.values()].flat().length).toBeGreaterThan(300);
  });
});
