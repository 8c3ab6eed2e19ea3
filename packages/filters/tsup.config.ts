import { defineConfig } from 'tsup';

const common = { dts: true, sourcemap: true, target: 'es2022' } as const;

export default defineConfig([
  // ESM: index.ts awaits the wasm parts at top level.
  { ...common, entry: { index: 'src/index.ts' }, format: ['esm'] },
  // CommonJS (dist/index.cjs, dist/index.d.cts): the same exports without the top-level await.
  { ...common, entry: { index: 'src/index-cjs.ts' }, format: ['cjs'] },
]);
