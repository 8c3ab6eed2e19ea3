import { PsError, PsErrorCode } from '../errors.js';

/**
 * A bounded, evenly spaced key range that a {@link KVTable} stores without hashing: key
 * `base + (i << shift)` for `i` in `[0, count)` keeps its values at index `i * width` of every
 * slab, and a bitmap says which of them are stored. Hashed features are the case in point:
 * 2^20 to 2^28 buckets, with keys `bucket << (64 - bits)` (`base` 0, `shift` `64 - bits`).
 *
 * The table learns the range from its handler's options (`denseRange`); it does not guess it
 * from the keys it sees (a switch would copy the whole table, and the job knows its buckets).
 * Keys outside the range, or not on its grid, or pushed with another width, still go to the
 * table's hash part, so a dense table accepts every key a hash table does and answers the same.
 *
 * Memory: `count * width` values per slab are reserved up front (4 B each for float32, pages
 * the OS maps only when first written) plus `count / 8` bytes of bitmap. Give each server the
 * span of the key range it owns, not the whole key space's.
 */
export interface DenseRange {
  /** The range's first key. Default 0. */
  base?: bigint;
  /** Keys are `base + (i << shift)`: 0 for consecutive keys, `64 - bits` for hashed buckets. Default 0. */
  shift?: number;
  /** Number of key slots, 1 to 2^30. */
  count: number;
  /** Values per key of the dense keys (a dense key pushed with another width goes to the hash part). Default 1. */
  width?: number;
}

/** A checked {@link DenseRange}, with the 64-bit base split into 32-bit words. */
export interface DenseLayout {
  readonly baseLo: number;
  readonly baseHi: number;
  readonly shift: number;
  readonly count: number;
  readonly width: number;
}

const MAX_VALUES = 2 ** 30;

/**
 * Checks a {@link DenseRange}.
 * @throws PsError `PS_ERR_CONFIG` when `count`, `shift` or `width` are not integers in range,
 *   `count * width` exceeds 2^30 values, or the range's last key passes 2^64 - 1.
 */
export function denseLayout(r: DenseRange): DenseLayout {
  const base = r.base ?? 0n;
  const shift = r.shift ?? 0;
  const width = r.width ?? 1;
  const bad = (what: string) =>
    new PsError(
      PsErrorCode.CONFIG,
      `denseRange: ${what}; give { base, shift, count, width } of the keys the server owns`,
    );
  if (!Number.isInteger(r.count) || r.count < 1 || r.count > MAX_VALUES)
    throw bad(`count must be an integer in [1, 2^30], got ${r.count}`);
  if (!Number.isInteger(shift) || shift < 0 || shift > 63)
    throw bad(`shift must be an integer in [0, 63], got ${shift}`);
  if (!Number.isInteger(width) || width < 1 || r.count * width > MAX_VALUES)
    throw bad(`width must be an integer >= 1 with count * width <= 2^30, got width ${width}`);
  if (typeof base !== 'bigint' || base < 0n || base + (BigInt(r.count - 1) << BigInt(shift)) >= 2n ** 64n)
    throw bad(`base ${String(base)} + (count - 1) << shift must lie in [0, 2^64)`);
  return { baseLo: Number(base & 0xffff_ffffn), baseHi: Number(base >> 32n), shift, count: r.count, width };
}

/** Slot of the key `(lo, hi)` in the range, or -1 when the key is not one of its keys. */
export function denseSlot(d: DenseLayout, lo: number, hi: number): number {
  // d = key - base on two words; a key below base wraps to a huge d and fails the checks below.
  const dlo = (lo - d.baseLo) >>> 0;
  const dhi = (hi - d.baseHi - (lo >>> 0 < d.baseLo ? 1 : 0)) >>> 0;
  const s = d.shift;
  let i: number;
  if (s >= 32) {
    if (dlo !== 0) return -1;
    const t = s - 32;
    if (t > 0 && (dhi & ((1 << t) - 1)) !== 0) return -1;
    i = dhi >>> t;
  } else if (s === 0) {
    if (dhi !== 0) return -1;
    i = dlo;
  } else {
    if (dhi >>> s !== 0 || (dlo & ((1 << s) - 1)) !== 0) return -1;
    i = ((dhi << (32 - s)) | (dlo >>> s)) >>> 0;
  }
  return i < d.count ? i : -1;
}

/** Writes the two 32-bit words of slot `i`'s key to `out[at]` (low) and `out[at + 1]` (high). */
export function denseKeyWords(d: DenseLayout, i: number, out: Uint32Array, at: number): void {
  const s = d.shift;
  let lo: number;
  let hi: number;
  if (s >= 32) {
    lo = 0;
    hi = (i << (s - 32)) >>> 0;
  } else {
    lo = (i << s) >>> 0;
    hi = s === 0 ? 0 : i >>> (32 - s);
  }
  const sum = lo + d.baseLo;
  out[at] = sum >>> 0;
  out[at + 1] = (hi + d.baseHi + (sum > 0xffff_ffff ? 1 : 0)) >>> 0;
}

/** `[missing, others]` of the last {@link denseLookup}. */
export const denseCounts = new Int32Array(2);

/**
 * The tight loop of a lookup in a dense range of shift 0 or >= 32 (consecutive keys, hashed
 * buckets): `out[i]` = slot of key i when stored, -1 when it is a slot not stored, -2 when the
 * key is not one of the range's (the caller looks those up in the hash part). Counts go to
 * {@link denseCounts}. Returns false, touching nothing, for other shifts.
 */
export function denseLookup(
  d: DenseLayout,
  present: Uint32Array,
  w: Uint32Array,
  n: number,
  out: Int32Array,
): boolean {
  const { baseLo: bl, baseHi: bh, count } = d;
  let missing = 0;
  let others = 0;
  if (d.shift === 0) {
    for (let i = 0; i < n; i++) {
      const lo = w[2 * i]!;
      const dlo = (lo - bl) >>> 0;
      const dhi = (w[2 * i + 1]! - bh - (lo < bl ? 1 : 0)) >>> 0;
      if (dhi !== 0 || dlo >= count) {
        out[i] = -2;
        others++;
      } else if ((present[dlo >>> 5]! & (1 << (dlo & 31))) === 0) {
        out[i] = -1;
        missing++;
      } else out[i] = dlo;
    }
  } else if (d.shift >= 32) {
    const t = d.shift - 32;
    const mask = t === 0 ? 0 : (1 << t) - 1;
    for (let i = 0; i < n; i++) {
      const dhi = (w[2 * i + 1]! - bh) >>> 0;
      const s = dhi >>> t;
      if (w[2 * i] !== bl || (dhi & mask) !== 0 || s >= count) {
        out[i] = -2;
        others++;
      } else if ((present[s >>> 5]! & (1 << (s & 31))) === 0) {
        out[i] = -1;
        missing++;
      } else out[i] = s;
    }
  } else return false;
  denseCounts[0] = missing;
  denseCounts[1] = others;
  return true;
}
