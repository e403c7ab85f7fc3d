// What the webgpu tests need to know about this machine: whether Dawn (the optional `webgpu` package)
// is installed, where Mesa's software Vulkan driver (lavapipe, installed by .ci/run) would be, and a
// webgpu backend for the in-process suites, or why there is none.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { initBackend } from '../../src/backend/index.js';

export const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';

export const hasDawn = (() => {
  try {
    createRequire(import.meta.url).resolve('webgpu');
    return true;
  } catch {
    return false;
  }
})();

/** Dawn is installed and lavapipe is there: a CLI run with VK_DRIVER_FILES=LAVAPIPE gets an adapter. */
export const hasLavapipe = hasDawn && existsSync(LAVAPIPE);

/** Initialises webgpu in this process; returns why it could not (the suite then skips, saying so on stderr). */
export async function webgpuOrWhy(suite: string): Promise<string | undefined> {
  try {
    await initBackend('webgpu');
    return undefined;
  } catch (e) {
    const why = (e as Error).message;
    process.stderr.write(`${suite} skipped: ${why}\n`);
    return why;
  }
}
