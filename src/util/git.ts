// The commit a result was produced with (summary.json), when run inside a git checkout.
import { execFileSync } from 'node:child_process';

// Set by `npm run bundle` (src/tools/bundle.ts, esbuild `define`): the commit the bundle was built
// from. A bundle runs in a copy of the tree on another machine (the GPU host), whose git state need
// not be the one the bundle was built from.
declare const __METALA_BUNDLE_COMMIT__: string | undefined;

let cached: string | null | undefined;

export function gitCommit(): string | null {
  if (cached !== undefined) return cached;
  if (typeof __METALA_BUNDLE_COMMIT__ === 'string') return (cached = __METALA_BUNDLE_COMMIT__);
  cached = checkoutCommit();
  return cached;
}

/** HEAD of the git checkout around the working directory (short, `-dirty` with tracked changes), or null. */
export function checkoutCommit(cwd?: string): string | null {
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    return out.toString().trim() + (dirty.toString().trim() !== '' ? '-dirty' : '');
  } catch {
    return null;
  }
}
