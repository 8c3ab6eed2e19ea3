// The package's exports, shared by the ESM entry (index.ts) and the CommonJS one (index-cjs.ts).
export {
  type KeyCachingFilter,
  type KeyCachingMeta,
  type KeyCachingOptions,
  type KeyCachingStats,
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
export { filtersReady } from './xxh64.js';
