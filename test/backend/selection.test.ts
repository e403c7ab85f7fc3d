// Backend choice through the CLI (issue #4, "checked by"): `auto` takes a hardware WebGPU adapter
// and otherwise wasm — when dawn.node cannot be loaded, when Vulkan shows no device, and when the
// only adapter is a software one (lavapipe: slower than wasm on the same CPU) — while a forced
// `--backend webgpu` without an adapter is a one-line error with exit code 2. Each case is a fresh
// process (a process holds one backend), running `metala inspect` on the official tiny checkpoint.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { GOLDEN, REPO } from '../helpers/golden.js';
import { hasDawn, hasLavapipe, LAVAPIPE } from '../helpers/webgpu.js';

const CKPT = resolve(GOLDEN, 'metala-tiny');

function inspect(backend: string, env: Record<string, string>): { code: number; out: string; err: string } {
  const base = { ...process.env };
  delete base['METALA_NO_GPU'];
  delete base['METALA_DAWN_NODE'];
  const r = spawnSync(process.execPath, [resolve(REPO, 'bin/metala.js'), 'inspect', CKPT, '--backend', backend], { encoding: 'utf8', env: { ...base, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** The backend `inspect` names at the end of its first line: `… parameters (wasm)`. */
const backendOf = (out: string): string | undefined => /parameters \((\w+)\)/.exec(out)?.[1];
/** Dawn and the Vulkan loader print warnings on stderr; ours is the `error:` line. */
const errorLines = (err: string): string[] => err.split('\n').filter((l) => l.startsWith('error:'));

describe('backend selection', () => {
  it('dawn.node missing: auto runs on wasm; --backend webgpu is one error line, exit 2', () => {
    const env = { METALA_DAWN_NODE: '/nonexistent/dawn.node' };
    const auto = inspect('auto', env);
    expect(auto.code).toBe(0);
    expect(backendOf(auto.out)).toBe('wasm');
    const forced = inspect('webgpu', env);
    expect(forced.code).toBe(2);
    expect(errorLines(forced.err)).toEqual([expect.stringMatching(/^error: backend webgpu unavailable: \/nonexistent\/dawn\.node could not be loaded .*--backend wasm$/)]);
    expect(forced.out).toBe('');
  });

  it.skipIf(!hasDawn)('no Vulkan device: auto runs on wasm; --backend webgpu says no adapter, exit 2', () => {
    const env = { VK_DRIVER_FILES: '/nonexistent/icd.json' };
    const auto = inspect('auto', env);
    expect(auto.code).toBe(0);
    expect(backendOf(auto.out)).toBe('wasm');
    const forced = inspect('webgpu', env);
    expect(forced.code).toBe(2);
    expect(errorLines(forced.err)).toEqual([expect.stringMatching(/^error: backend webgpu: no GPU adapter found .*--backend wasm/)]);
  });

  it.skipIf(!hasLavapipe)('only a software adapter (lavapipe): auto runs on wasm and prints nothing (no Dawn or Vulkan warnings); --backend webgpu uses it', () => {
    const env = { VK_DRIVER_FILES: LAVAPIPE };
    const auto = inspect('auto', env);
    expect(auto.code).toBe(0);
    expect(backendOf(auto.out)).toBe('wasm');
    // Dawn's adapter enumeration warns on stderr from native code; the probe child keeps it there.
    expect(auto.err).toBe('');
    // the same with the machine's own Vulkan drivers (no VK_DRIVER_FILES), as a user's CPU machine has them
    const plain = inspect('auto', {});
    expect(backendOf(plain.out)).toBe('wasm');
    expect(plain.err).toBe('');
    const forced = inspect('webgpu', env);
    expect(forced.code).toBe(0);
    expect(backendOf(forced.out)).toBe('webgpu');
  });
});
