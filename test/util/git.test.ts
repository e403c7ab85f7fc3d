// summary.json's git_commit: the checkout's HEAD (+ -dirty) when run from a git tree, and the commit a
// bundle was built from when run as the bundle (npm run bundle defines __METALA_BUNDLE_COMMIT__), even
// in a copy of the tree whose git state differs (the GPU host).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkoutCommit } from '../../src/util/git.js';

describe('git commit of a result', () => {
  it('is the checkout\'s HEAD in a git tree, null outside one, and the embedded commit in a bundle', async () => {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(checkoutCommit()).toMatch(new RegExp(`^${head}(-dirty)?$`));
    const outside = mkdtempSync(join(tmpdir(), 'metala-git-'));
    expect(checkoutCommit(outside)).toBeNull();
    const { build } = await import('esbuild');
    const entry = join(outside, 'entry.ts');
    writeFileSync(entry, `import { gitCommit } from ${JSON.stringify(join(process.cwd(), 'src/util/git.ts'))};\nprocess.stdout.write(String(gitCommit()));\n`);
    const script = join(outside, 'entry.cjs');
    await build({ entryPoints: [entry], outfile: script, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent', define: { __METALA_BUNDLE_COMMIT__: JSON.stringify('abc123def456') } });
    // run in the repository: its own HEAD must not win over the embedded commit
    expect(execFileSync(process.execPath, [script], { encoding: 'utf8' })).toBe('abc123def456');
    await build({ entryPoints: [entry], outfile: script, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent' });
    expect(execFileSync(process.execPath, [script], { encoding: 'utf8', cwd: outside })).toBe('null');
  });
});
