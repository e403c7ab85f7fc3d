import { defineConfig } from 'vitest/config';

// Tests import the TypeScript sources directly (vite transpiles them); the CLI end-to-end tests
// spawn bin/metala.js, which needs `npm run build` first (.ci/run does it).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
