import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import { type DenseLayout, denseKeyWords } from './dense-range.js';

/** What `scanRange` reads of a `KVTable` (its internals, passed by the table itself). */
export interface ScanSource {
  /** The dense range, if any: its entries are slots `0 .. count`, in key order. */
  readonly dense: DenseLayout | undefined;
  /** Bit i set: dense slot i is stored. */
  readonly present: Uint32Array;
  /** Entry of hashed key of rank h is `base + h`. */
  readonly base: number;
  /** Ranks of the hashed keys, ascending by key (see `HashKeyOrder`). */
  readonly order: Int32Array;
  readonly keyLo: Uint32Array;
  readonly keyHi: Uint32Array;
  /** Number of values of entry `e`. */
  lengthOf(e: number): number;
}

/** Bounds of one `scanRange`: it stops before the key that would pass either. */
export interface ScanBudget {
  /** Keys at most. */
  limit: number;
  /** Bytes at most, counting `keyBytes + len * valueBytes` per key. */
  maxBytes: number;
  keyBytes: number;
  valueBytes: number;
}

/** The stored keys of one range, in ascending order, and where the scan stopped. */
export interface RangeScan {
  keys: BigUint64Array;
  /** The table entries of `keys` (for `offsetOf`, `lengthOf`). */
  entries: Int32Array;
  /** Values of all `keys` together. */
  values: number;
  /** The first stored key of the range not returned (the budget ran out), else `undefined`. */
  next: bigint | undefined;
}

/**
 * The stored keys of a table in `[range.begin, range.end)`, ascending, up to the budget:
 * the dense slots in the range (their keys grow with the slot) merged with the hashed keys in
 * the range (a binary search in their sorted order, then a walk). Nothing is copied but the keys
 * and entries returned; the cost is O(log n + keys returned + dense slots walked / 32).
 */
export function scanRange(src: ScanSource, range: KeyRange, budget: ScanBudget): RangeScan {
  const { order, keyLo, keyHi } = src;
  let [slot, slotEnd] = src.dense ? denseSlots(src.dense, range) : [0, 0];
  let h = lowerRank(src, range.begin);
  const hEnd = lowerRank(src, range.end);
  let cap = Math.min(budget.limit, 1024);
  let entries = new Int32Array(cap);
  let words = new Uint32Array(2 * cap);
  const kw = new Uint32Array(2);
  let m = 0;
  let bytes = 0;
  let values = 0;
  let next: bigint | undefined;
  slot = nextSlot(src.present, slot, slotEnd);
  while (slot < slotEnd || h < hEnd) {
    // The smaller of the next dense key and the next hashed key.
    let e: number;
    let lo: number;
    let hi: number;
    if (slot < slotEnd) denseKeyWords(src.dense!, slot, kw, 0);
    const r = h < hEnd ? order[h]! : -1;
    const takeDense =
      slot < slotEnd && (r < 0 || kw[1]! < keyHi[r]! || (kw[1] === keyHi[r] && kw[0]! < keyLo[r]!));
    if (takeDense) {
      e = slot;
      lo = kw[0]!;
      hi = kw[1]!;
    } else {
      e = src.base + r;
      lo = keyLo[r]!;
      hi = keyHi[r]!;
    }
    const len = src.lengthOf(e);
    const cost = budget.keyBytes + len * budget.valueBytes;
    if (m >= budget.limit || bytes + cost > budget.maxBytes) {
      next = (BigInt(hi) << 32n) | BigInt(lo);
      break;
    }
    if (m === cap) {
      cap *= 2;
      entries = grow(entries, cap);
      words = grow(words, 2 * cap);
    }
    entries[m] = e;
    words[2 * m] = lo;
    words[2 * m + 1] = hi;
    m++;
    bytes += cost;
    values += len;
    if (takeDense) slot = nextSlot(src.present, slot + 1, slotEnd);
    else h++;
  }
  const keys = new BigUint64Array(m);
  new Uint32Array(keys.buffer).set(words.subarray(0, 2 * m));
  return { keys, entries: entries.subarray(0, m), values, next };
}

/** Slots `[first, end)` of the dense range whose keys lie in `range` (a BigInt division per scan). */
function denseSlots(d: DenseLayout, range: KeyRange): [number, number] {
  const base = (BigInt(d.baseHi) << 32n) | BigInt(d.baseLo);
  const step = 1n << BigInt(d.shift);
  const at = (bound: bigint) => {
    if (bound <= base) return 0;
    const s = (bound - base + step - 1n) / step;
    return s >= BigInt(d.count) ? d.count : Number(s);
  };
  return [at(range.begin), at(range.end)];
}

/** First set bit of `present` in `[from, end)`, or `end`; skips empty 32-slot words at once. */
function nextSlot(present: Uint32Array, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const bits = present[i >>> 5]! >>> (i & 31);
    if (bits === 0) {
      i = (i | 31) + 1;
      continue;
    }
    i += 31 - Math.clz32(bits & -bits);
    return i < end ? i : end;
  }
  return end;
}

/** Index in `src.order` of the first hashed key `>= bound`. */
function lowerRank(src: ScanSource, bound: bigint): number {
  const { order, keyLo, keyHi } = src;
  if (bound >= KEY_SPACE_END) return order.length;
  if (bound <= 0n) return 0;
  const bhi = Number(bound >> 32n);
  const blo = Number(bound & 0xffff_ffffn);
  let a = 0;
  let b = order.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    const r = order[mid]!;
    const khi = keyHi[r]!;
    if (khi < bhi || (khi === bhi && keyLo[r]! < blo)) a = mid + 1;
    else b = mid;
  }
  return a;
}

function grow<T extends Int32Array | Uint32Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
