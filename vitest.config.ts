import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/**/src/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // Hang guards, not limits: a loaded 2-core machine (the whole suite beside other work) makes
    // end-to-end tests many times slower, and a guard that fires then reports a flake, not a bug.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // End-to-end tests spawn the CLI; two cores, so keep parallelism modest.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: 'forks',
  },
});
