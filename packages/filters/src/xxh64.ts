import { PsError, PsErrorCode } from '@ps/core';
// The hash: XXH64 from `xxhash-wasm` (MIT, ~11M downloads a month, maintained). Why this one:
// - one build for Node and browsers: it instantiates a ~2 KB wasm module inlined as bytes with
//   the standard `WebAssembly.instantiate` (no file to fetch, no Node API, no native addon such
//   as @node-rs/xxhash or xxhash-addon, which have no browser build);
// - synchronous after load: the one async step, instantiation, starts when this module loads;
//   the ESM entry awaits it at top level (so `encode`/`decode` stay synchronous, as the Filter
//   contract needs), and a CommonJS caller awaits `filtersReady` (hash-wasm would do too, but
//   ships dozens of algorithms we do not use);
// - fast: about 4 GB/s on one core measured here (one copy into wasm memory plus the hash), where
//   the pure-JS XXH64 packages (xxhashjs, xxh3-ts) use BigInt or 16-bit limbs and run one to two
//   orders of magnitude slower, and murmurhash3js-revisited is unmaintained and string-oriented;
// - standard output: XXH64 with seed 0, so any other XXH64 implementation computes the same
//   signature (the empty list hashes to ef46db3751d8e999, the reference value).
import xxhash from 'xxhash-wasm';

let loaded: ((bytes: Uint8Array) => bigint) | undefined;

/**
 * Resolves once the filters' wasm parts are loaded (today XXH64, for {@link keyCaching}). An ESM
 * `import` of `@ps/filters` waits for it already; from CommonJS, `await filtersReady` after
 * `require('@ps/filters')` and before the first message.
 */
export const filtersReady: Promise<void> = xxhash().then((h) => {
  loaded = h.h64Raw;
});

/**
 * XXH64 (seed 0) of `bytes`.
 * @throws PsError `PS_ERR_CONFIG` while the wasm module is still loading (CommonJS only: await
 *   `filtersReady` first).
 */
export function h64Raw(bytes: Uint8Array): bigint {
  if (loaded === undefined) {
    throw new PsError(
      PsErrorCode.CONFIG,
      "@ps/filters' XXH64 (xxhash-wasm) is still loading; from CommonJS, `await filtersReady` (exported by @ps/filters) before the first message",
    );
  }
  return loaded(bytes);
}
