import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // In-process tests run against the sources; spawned processes run the built dist/.
    alias: [
      {
        find: /^@ps\/core\/testing$/,
        replacement: fileURLToPath(new URL('./packages/core/src/testing.ts', import.meta.url)),
      },
      {
        find: /^@ps\/core\/node$/,
        replacement: fileURLToPath(new URL('./packages/core/src/node.ts', import.meta.url)),
      },
      { find: /^@ps\/core$/, replacement: src('core') },
      { find: /^@ps\/transport-inproc$/, replacement: src('transport-inproc') },
      { find: /^@ps\/transport-tcp$/, replacement: src('transport-tcp') },
      { find: /^@ps\/filters$/, replacement: src('filters') },
      { find: /^@ps\/apps$/, replacement: src('apps') },
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    // The fault-injection suite (servers SIGKILLed, joins, leaves) runs on its own: `npm run test:faults`.
    exclude: [...configDefaults.exclude, ...(process.env.PS_FAULTS ? [] : ['test/faults/**'])],
    // Several tests run whole jobs as processes (tens of seconds each on 2 cores, more when the
    // files running beside them load the machine): their own waits are bounded, this is the cap.
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
