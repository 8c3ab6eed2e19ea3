import { PsError, PsErrorCode } from '../errors.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import type { ValArray, ValDtype } from '../wire/kv-pairs.js';

/**
 * The content of a `KVTable` inside some key ranges, every state slab included: what
 * `KVTable.exportRanges` returns and `KVTable.importRanges` takes, and what a snapshot stores.
 *
 * - `keys`: the stored keys, strictly increasing (unsigned 64-bit).
 * - `lens`: `keys.length` non-negative counts; key i owns `lens[i]` values.
 * - `slabs`: `states` value arrays of `dtype`, each of length `sum(lens)`; `slabs[s]` holds the
 *   values of slab s (slab 0 is the weight for the built-in rules, the others their
 *   per-coordinate state) of the keys concatenated in key order.
 * - `dtype`, `states`: those of the table the data came from (an import checks them).
 */
export interface TableRange {
  keys: BigUint64Array;
  lens: Int32Array;
  slabs: ValArray[];
  dtype: ValDtype;
  states: number;
}

/**
 * Sorted, disjoint half-open key ranges as 32-bit words, to test keys without a BigInt per key
 * (internal). Empty ranges are dropped.
 */
export class RangeWords {
  /** Number of (non-empty) ranges. */
  readonly length: number;
  private readonly bLo: Uint32Array;
  private readonly bHi: Uint32Array;
  private readonly eLo: Uint32Array;
  private readonly eHi: Uint32Array;
  /** 1 when the range ends at 2^64 (its end has no 64-bit word form). */
  private readonly eMax: Uint8Array;

  /**
   * @throws PsError `PS_ERR_MESSAGE_INVALID` when a bound is not a bigint in `[0, 2^64]`, a
   *   range ends before it begins, or the ranges are not sorted and disjoint.
   */
  constructor(ranges: readonly KeyRange[]) {
    checkRanges(ranges);
    const kept = ranges.filter((r) => r.begin < r.end);
    const n = kept.length;
    this.length = n;
    this.bLo = new Uint32Array(n);
    this.bHi = new Uint32Array(n);
    this.eLo = new Uint32Array(n);
    this.eHi = new Uint32Array(n);
    this.eMax = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const { begin, end } = kept[i]!;
      this.bLo[i] = Number(begin & 0xffffffffn);
      this.bHi[i] = Number(begin >> 32n);
      if (end >= KEY_SPACE_END) this.eMax[i] = 1;
      else {
        this.eLo[i] = Number(end & 0xffffffffn);
        this.eHi[i] = Number(end >> 32n);
      }
    }
  }

  /** True when the key with words `lo`, `hi` lies in one of the ranges. O(log ranges). */
  contains(lo: number, hi: number): boolean {
    return this.indexOf(lo, hi) >= 0;
  }

  /** Index of the range holding the key with words `lo`, `hi`, or -1. O(log ranges). */
  indexOf(lo: number, hi: number): number {
    // Last range whose begin is <= the key.
    let a = 0;
    let b = this.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const bh = this.bHi[mid]!;
      if (bh < hi || (bh === hi && this.bLo[mid]! <= lo)) a = mid + 1;
      else b = mid;
    }
    const r = a - 1;
    if (r < 0) return -1;
    if (this.eMax[r] === 1) return r;
    const eh = this.eHi[r]!;
    return hi < eh || (hi === eh && lo < this.eLo[r]!) ? r : -1;
  }
}

/**
 * Checks that ranges are sorted, disjoint half-open ranges of the 64-bit key space.
 * @throws PsError `PS_ERR_MESSAGE_INVALID` otherwise, with the offending index.
 */
export function checkRanges(ranges: readonly KeyRange[]): void {
  if (!Array.isArray(ranges)) {
    throw new PsError(PsErrorCode.MESSAGE_INVALID, 'key ranges must be an array of { begin, end }');
  }
  let prevEnd = 0n;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as KeyRange | undefined;
    const begin = r?.begin;
    const end = r?.end;
    if (typeof begin !== 'bigint' || typeof end !== 'bigint') {
      throw new PsError(PsErrorCode.MESSAGE_INVALID, `key range ${i} must have bigint begin and end`, {
        index: i,
      });
    }
    if (begin < 0n || end > KEY_SPACE_END || begin > end) {
      throw new PsError(
        PsErrorCode.MESSAGE_INVALID,
        `key range ${i} [${begin}, ${end}) is not a range of the key space [0, 2^64)`,
        { index: i },
      );
    }
    if (begin < prevEnd) {
      throw new PsError(
        PsErrorCode.MESSAGE_INVALID,
        `key ranges must be sorted and disjoint: range ${i} begins at ${begin}, before the previous one ends (${prevEnd})`,
        { index: i },
      );
    }
    if (end > begin) prevEnd = end;
  }
}
