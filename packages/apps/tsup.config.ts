import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';
import { defineConfig } from 'tsup';

/**
 * The browser worker's page: src/web/page bundled for browsers into dist/web (index.html and
 * one ES module). The "browser" export condition gives @ps/transport-ws's browser entry, so the
 * bundle holds no Node module; `platform: 'browser'` makes any Node import fail the build.
 */
async function buildWebPage(): Promise<void> {
  await mkdir('dist/web', { recursive: true });
  await build({
    entryPoints: ['src/web/page/browser-worker.ts'],
    outfile: 'dist/web/browser-worker.js',
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
  });
  await copyFile('src/web/page/index.html', 'dist/web/index.html');
}

export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts', 'src/bench.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  onSuccess: buildWebPage,
});
