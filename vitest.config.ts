import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // The PGlite worker thread is an entry point loaded by Node, not by vitest: from the sources
    // it is TypeScript, so each worker thread gets a TypeScript loader (see the preload).
    poolOptions: {
      forks: {
        execArgv: [
          '--import',
          fileURLToPath(new URL('./test/support/worker-typescript.mjs', import.meta.url)),
        ],
      },
    },
    testTimeout: 30_000,
    hookTimeout: 90_000,
    reporters: process.env.CI ? ['verbose'] : ['default'],
  },
});
