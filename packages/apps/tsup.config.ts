import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';
import { defineConfig } from 'tsup';

/**
 * The pages: src/web/page bundled for browsers into dist/web (each page's HTML and one ES module:
 * the browser worker's, and the job dashboard's, with Vega and Vega-Lite inside). The "browser"
 * export condition gives @ps/transport-ws's browser entry, so the bundles hold no Node module;
 * `platform: 'browser'` makes any Node import fail the build.
 */
async function buildWebPage(): Promise<void> {
  await mkdir('dist/web', { recursive: true });
  await build({
    entryPoints: ['src/web/page/browser-worker.ts', 'src/web/page/dashboard.ts'],
    outdir: 'dist/web',
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
  });
  await copyFile('src/web/page/index.html', 'dist/web/index.html');
  await copyFile('src/web/page/dashboard.html', 'dist/web/dashboard.html');
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
