import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fuzz loop and the property tests are CPU-bound; two cores here.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
