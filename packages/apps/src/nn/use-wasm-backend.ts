import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmConvGrad } from './register-wasm-conv-grad.js';

/**
 * Node only: makes tfjs compute with its WebAssembly backend, its `.wasm` files read from the
 * installed `@tensorflow/tfjs-backend-wasm` package's `dist` folder (nothing is downloaded).
 * `@tensorflow/tfjs-node` is not used: it downloads libtensorflow at install time. In a browser
 * call `setWasmPaths` with the URL the page serves those files from instead.
 * @param threads WebAssembly threads of the backend; default 1 (one per worker process is what a
 *   small machine with several workers wants).
 */
export async function useWasmBackend(threads = 1): Promise<void> {
  if (tf.getBackend() === 'wasm') return;
  const require = createRequire(import.meta.url);
  const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep;
  setWasmPaths(dist);
  setThreadsCount(threads);
  registerWasmConvGrad();
  await tf.setBackend('wasm');
  await tf.ready();
}
