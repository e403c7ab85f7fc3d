// The commit a result was produced with (summary.json), when run inside a git checkout.
import { execFileSync } from 'node:child_process';

let cached: string | null | undefined;

export function gitCommit(): string | null {
  if (cached !== undefined) return cached;
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    cached = out.toString().trim() + (dirty.toString().trim() !== '' ? '-dirty' : '');
  } catch {
    cached = null;
  }
  return cached;
}
