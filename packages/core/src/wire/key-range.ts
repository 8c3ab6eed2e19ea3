import { keyWords } from './kv-pairs.js';

/** One past the largest 64-bit key: the exclusive end of the whole key space. */
export const KEY_SPACE_END = 1n << 64n;

/**
 * A half-open key range `[begin, end)` of the 64-bit key space. `end` may be
 * {@link KEY_SPACE_END} (2^64) for the last range.
 */
export interface KeyRange {
  readonly begin: bigint;
  readonly end: bigint;
}

/**
 * Splits the whole key space into `n` even, contiguous ranges, in key order (range i goes to
 * server rank i). This is ps-lite's static assignment; the consistent-hash ring replaces it later.
 */
export function evenKeyRanges(n: number): KeyRange[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`need at least one range, got ${n}`);
  const size = KEY_SPACE_END / BigInt(n);
  const out: KeyRange[] = [];
  for (let i = 0; i < n; i++) {
    const begin = size * BigInt(i);
    const end = i === n - 1 ? KEY_SPACE_END : size * BigInt(i + 1);
    out.push({ begin, end });
  }
  return out;
}

/**
 * Index of the first key `>= bound` in strictly increasing `keys` (binary search over 32-bit
 * words: O(log n), no BigInt per element). `bound = 2^64` gives `keys.length`.
 */
export function lowerBound(keys: BigUint64Array, bound: bigint, words: Uint32Array = keyWords(keys)): number {
  if (bound >= KEY_SPACE_END) return keys.length;
  if (bound <= 0n) return 0;
  const bhi = Number(bound >> 32n);
  const blo = Number(bound & 0xffffffffn);
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const khi = words[2 * mid + 1]!;
    const less = khi < bhi || (khi === bhi && words[2 * mid]! < blo);
    if (less) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when `key` lies in `range`. */
export function rangeContains(range: KeyRange, key: bigint): boolean {
  return key >= range.begin && key < range.end;
}
