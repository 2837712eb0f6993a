import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{models,src,properties}/**/*.test.ts'],
    // One test file per core: vitest's default leaves a core idle on these 2-core machines, and
    // the suite is CPU-bound (random properties, kill matrix, CLI checks in worker threads).
    maxWorkers: availableParallelism(),
    testTimeout: 300_000,
    hookTimeout: 60_000,
    // `npm run coverage`: V8 coverage of the model and the harness, with per-folder floors at the
    // measured level, so a change that leaves code untested fails.
    coverage: {
      provider: 'v8',
      include: ['models/**/*.ts', 'src/**/*.ts'],
      exclude: ['**/*.test.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
    },
  },
});
