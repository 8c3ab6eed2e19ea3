/**
 * @ps/filters: bandwidth filters for @ps (OSDI 2014, sections 3.6 and 4.2), each a `Filter` of
 * `@ps/core` to compose into a chain (`encodeChain` / `decodeChain`).
 *
 * Today: {@link quantize} (lossy, fixed-point with stochastic rounding or bfloat16) and {@link lz4}
 * (lossless), {@link keyCaching} (lossless), {@link significantUpdate} (lossy per message, nothing lost
 * over time). Nodes run a chain given
 * as the `filters` option of `createServer` / `createWorker`.
 */
export {
  type KeyCachingFilter,
  type KeyCachingMeta,
  type KeyCachingOptions,
  keyCaching,
  keyListSignature,
} from './key-caching.js';
export { type Lz4BlockCodec, type Lz4Meta, type Lz4Options, lz4 } from './lz4.js';
export { type QuantizeMeta, type QuantizeOptions, quantize } from './quantize.js';
export {
  type PendingResiduals,
  type SignificantMeta,
  type SignificantUpdateFilter,
  type SignificantUpdateOptions,
  significantUpdate,
} from './significant-update.js';
