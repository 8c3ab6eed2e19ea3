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
 * worker; its scratch is reused batch after batch (`positions` is `features` Int32 entries).
 */
export class MinibatchIndexer {
  /** `positions[bucket]` is the bucket's index in the current batch's `buckets`, or -1. */
  readonly positions: Int32Array;
  private seen: Uint8Array;
  private scratch = new Uint32Array(1024);
  private current: Uint32Array | undefined;

  private readonly bias: boolean;

  constructor(
    readonly features: number,
    readonly bits: number,
    opts: MinibatchIndexerOptions = {},
  ) {
    this.bias = opts.bias ?? false;
    this.positions = new Int32Array(features).fill(-1);
    this.seen = new Uint8Array(features);
  }

  /** Indexes rows `[start, end)` of `ds`; `positions` then answers for these rows' features. */
  index(ds: SparseDataset, start: number, end: number): MinibatchKeys {
    if (this.current) for (const b of this.current) this.positions[b] = -1;
    const { indptr, indices } = ds;
    let n = 0;
    for (let k = indptr[start]!; k < indptr[end]!; k++) {
      const b = indices[k]!;
      if (this.seen[b]) continue;
      this.seen[b] = 1;
      if (n === this.scratch.length) {
        const grown = new Uint32Array(n * 2);
        grown.set(this.scratch);
        this.scratch = grown;
      }
      this.scratch[n++] = b;
    }
    const buckets = this.scratch.slice(0, n).sort();
    for (let i = 0; i < n; i++) {
      const b = buckets[i]!;
      this.seen[b] = 0;
      this.positions[b] = i;
    }
    this.current = buckets;
    if (!this.bias) return { start, end, buckets, keys: bucketsToKeys(buckets, this.bits), bias: -1 };
    const keys = new BigUint64Array(n + 1);
    bucketsToKeys(buckets, this.bits, keys.subarray(0, n));
    keys[n] = BIAS_KEY;
    return { start, end, buckets, keys, bias: n };
  }
}
