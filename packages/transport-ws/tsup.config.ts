import { defineConfig } from 'tsup';

export default defineConfig({
  // index: Node (ws server and client, browser client); browser: the browser client only.
  entry: ['src/index.ts', 'src/browser.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
