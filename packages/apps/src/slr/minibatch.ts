import type { SparseDataset } from '../data/dataset.js';
import { BIAS_KEY, bucketsToKeys } from './feature-keys.js';

/** The features a minibatch touches, as the keys to pull and push. */
export interface MinibatchKeys {
  /** First row (inclusive) and last row (exclusive) of the batch in the data set. */
  start: number;
  end: number;
  /** Distinct feature buckets of the batch, increasing (uint32). */
  buckets: Uint32Array;
  /**
   * The same as 64-bit keys (see `bucketsToKeys`), increasing; with the intercept, followed by
   * `BIAS_KEY` (so `keys.length === buckets.length + 1`).
   */
  keys: BigUint64Array;
  /** The intercept's position in `keys` (and so in pulled weights and in gradients); -1 without. */
  bias: number;
}

/** Options of {@link MinibatchIndexer}. */
export interface MinibatchIndexerOptions {
  /** Append the intercept's key (`BIAS_KEY`) to every batch's keys. Default false. */
  bias?: boolean;
}

/**
 * Collects the distinct features of row ranges and keeps a dense bucket → position map, so that
 * a gradient step looks up a weight by `position[bucket]` without hashing. One instance per
 * worker; its scratch is reused batch after batch (`positions` is `features` Int32 entries, plus
 * a bitmap of `features` bits).
 *
 * No comparison sort: the batch's buckets are marked in a bitmap and read back in increasing
 * order, by scanning the bitmap when it is small beside the batch (2^20 buckets: 32,768 words)
 * and otherwise by visiting only the words the batch touched, in order.
 */
export class MinibatchIndexer {
  /** `positions[bucket]` is the bucket's index in the current batch's `buckets`, or -1. */
  readonly positions: Int32Array;
  /** One bit per bucket: set while a batch is being collected, cleared before `keysOf` returns. */
  private readonly bitmap: Uint32Array;
  /** Bitmap words the batch touched (first touch order). */
  private words = new Uint32Array(1024);
  private current: Uint32Array | undefined;

  private readonly bias: boolean;

  constructor(
    readonly features: number,
    readonly bits: number,
    opts: MinibatchIndexerOptions = {},
  ) {
    this.bias = opts.bias ?? false;
    this.positions = new Int32Array(features).fill(-1);
    this.bitmap = new Uint32Array(Math.ceil(features / 32));
  }

  /**
   * The distinct buckets and keys of rows `[start, end)` of `ds`, without changing `positions`
   * (for a pull issued ahead of its batch; {@link use} makes it the current batch later).
   */
  keysOf(ds: SparseDataset, start: number, end: number): MinibatchKeys {
    const { indptr, indices } = ds;
    const bitmap = this.bitmap;
    let words = this.words;
    let nWords = 0;
    let n = 0;
    const to = indptr[end]!;
    for (let k = indptr[start]!; k < to; k++) {
      const b = indices[k]!;
      const w = b >>> 5;
      const bit = 1 << (b & 31);
      const old = bitmap[w]!;
      if (old & bit) continue;
      if (old === 0) {
        if (nWords === words.length) {
          const grown = new Uint32Array(nWords * 2);
          grown.set(words);
          words = grown;
          this.words = grown;
        }
        words[nWords++] = w;
      }
      bitmap[w] = old | bit;
      n++;
    }
    const buckets = new Uint32Array(n);
    let i = 0;
    if (bitmap.length <= 4 * nWords + 64) {
      // Scan the whole bitmap (clearing it): cheaper than ordering the touched words.
      for (let w = 0; w < bitmap.length; w++) {
        let v = bitmap[w]!;
        if (v === 0) continue;
        bitmap[w] = 0;
        const base = w * 32;
        while (v !== 0) {
          const low = v & -v;
          buckets[i++] = base + 31 - Math.clz32(low);
          v ^= low;
        }
      }
    } else {
      const touched = words.subarray(0, nWords).sort();
      for (let t = 0; t < nWords; t++) {
        const w = touched[t]!;
        let v = bitmap[w]!;
        bitmap[w] = 0;
        const base = w * 32;
        while (v !== 0) {
          const low = v & -v;
          buckets[i++] = base + 31 - Math.clz32(low);
          v ^= low;
        }
      }
    }
    if (!this.bias) return { start, end, buckets, keys: bucketsToKeys(buckets, this.bits), bias: -1 };
    const keys = new BigUint64Array(n + 1);
    bucketsToKeys(buckets, this.bits, keys.subarray(0, n));
    keys[n] = BIAS_KEY;
    return { start, end, buckets, keys, bias: n };
  }

  /** Makes `batch` (from {@link keysOf} on this indexer) the one `positions` answers for. */
  use(batch: MinibatchKeys): MinibatchKeys {
    const positions = this.positions;
    if (this.current) for (const b of this.current) positions[b] = -1;
    const buckets = batch.buckets;
    for (let i = 0; i < buckets.length; i++) positions[buckets[i]!] = i;
    this.current = buckets;
    return batch;
  }

  /** Indexes rows `[start, end)` of `ds`; `positions` then answers for these rows' features. */
  index(ds: SparseDataset, start: number, end: number): MinibatchKeys {
    return this.use(this.keysOf(ds, start, end));
  }
}
