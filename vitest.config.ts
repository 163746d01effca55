import { defineConfig } from 'vitest/config';

// Integration and end-to-end tests share one Docker engine and one Redis: every test namespaces its
// containers, labels and keys, so files may run in parallel, but the machine has 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/vitest-results.json' },
    // testcontainers' reaper is an image from a registry, which is unreachable here; every test
    // removes what it starts, by namespace label.
    env: { TESTCONTAINERS_RYUK_DISABLED: 'true' },
  },
});
