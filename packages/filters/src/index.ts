/**
 * @ps/filters: bandwidth filters for @ps (OSDI 2014, sections 3.6 and 4.2), each a `Filter` of
 * `@ps/core` to compose into a chain (`encodeChain` / `decodeChain`).
 *
 * Today: {@link quantize} (lossy, fixed-point with stochastic rounding or bfloat16) and {@link lz4}
 * (lossless), {@link keyCaching} (lossless), {@link significantUpdate} (lossy per message, nothing lost
 * over time). Nodes run a chain given
 * as the `filters` option of `createServer` / `createWorker`.
 *
 * This is the ESM entry: it waits at top level for the wasm parts to load, so every filter works
 * once the import resolves. The CommonJS entry (`index-cjs.ts`) cannot: there, await
 * {@link filtersReady} before the first message.
 */
import { filtersReady } from './xxh64.js';

export * from './public-api.js';

await filtersReady;
