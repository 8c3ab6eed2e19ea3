import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

const require = createRequire(import.meta.url);

/**
 * The LZ4 filter of @ps/filters imports `lz4-wasm-nodejs` (the Node build, which reads its
 * .wasm with `fs`). In the browser bundle that import becomes `lz4-wasm`, the browser build of
 * the same wasm binary (the same bytes on the wire): its glue `import`s the .wasm as an ES module,
 * which only bundlers with wasm-ESM support understand, so this plugin does their part: the wasm
 * is embedded in the bundle (esbuild's binary loader, no fetch at run time), instantiated with
 * the package's own glue as its imports, at the module's top level (an ES module Worker awaits it).
 */
function lz4WasmForBrowsers(): Plugin {
  const dir = dirname(require.resolve('lz4-wasm/package.json'));
  const glue = join(dir, 'lz4_wasm_bg.js');
  const importLine = "import * as wasm from './lz4_wasm_bg.wasm';";
  return {
    name: 'lz4-wasm-for-browsers',
    setup(b) {
      b.onResolve({ filter: /^lz4-wasm-nodejs$/ }, () => ({ path: 'lz4-wasm', namespace: 'ps-lz4-browser' }));
      b.onLoad({ filter: /.*/, namespace: 'ps-lz4-browser' }, () => ({
        resolveDir: dir,
        loader: 'js',
        contents: [
          "import * as glue from './lz4_wasm_bg.js';",
          "import bytes from './lz4_wasm_bg.wasm';",
          "const { instance } = await WebAssembly.instantiate(bytes, { './lz4_wasm_bg.js': glue });",
          'glue.__psSetWasm(instance.exports);',
          'export const compress = glue.compress;',
          'export const decompress = glue.decompress;',
        ].join('\n'),
      }));
      b.onLoad({ filter: /lz4_wasm_bg\.js$/ }, async (args) => {
        if (args.path !== glue) return undefined;
        const source = await readFile(glue, 'utf8');
        if (!source.includes(importLine)) throw new Error(`lz4-wasm changed: no "${importLine}" in ${glue}`);
        return {
          loader: 'js',
          contents: source.replace(
            importLine,
            'let wasm;\nexport function __psSetWasm(exports) { wasm = exports; }',
          ),
        };
      });
    },
  };
}

/**
 * The browser worker's page: src/web/page bundled for browsers into dist/web: index.html, the
 * page's module (browser-worker.js), the training Workers' modules (train-worker.js for sparse
 * logistic regression, nn-train-worker.js with tfjs for `pskv nn`) and tfjs's .wasm files; and the job dashboard's page (dashboard.html and its module, with Vega and
 * Vega-Lite inside). The
 * "browser" export condition gives @ps/transport-ws's browser entry, so the bundles hold no Node
 * module; `platform: 'browser'` makes any Node import fail the build.
 */
async function buildWebPage(): Promise<void> {
  await mkdir('dist/web', { recursive: true });
  await build({
    entryPoints: [
      'src/web/page/browser-worker.ts',
      'src/web/page/train-worker.ts',
      'src/web/page/nn-train-worker.ts',
      'src/web/page/dashboard.ts',
    ],
    outdir: 'dist/web',
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
    loader: { '.wasm': 'binary' },
    plugins: [lz4WasmForBrowsers()],
  });
  await copyFile('src/web/page/index.html', 'dist/web/index.html');
  // tfjs's WebAssembly backend loads these beside the page (setWasmPaths); the threaded build
  // needs cross-origin isolation, which the page does not ask for.
  const tfjsWasm = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'])
    await copyFile(join(tfjsWasm, f), join('dist/web', f));
  await copyFile('src/web/page/dashboard.html', 'dist/web/dashboard.html');
}

export default defineConfig({
  entry: ['src/index.ts', 'src/nn.ts', 'src/cli.ts', 'src/bench.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  onSuccess: buildWebPage,
});
