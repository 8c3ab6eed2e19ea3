import { PsError, PsErrorCode } from '../errors.js';
import type { KeyRange } from '../wire/key-range.js';
import { keyWords, type ValArray, type ValDtype } from '../wire/kv-pairs.js';
import {
  type DenseLayout,
  type DenseRange,
  denseCounts,
  denseKeyWords,
  denseLayout,
  denseLookup,
  denseSlot,
} from './dense-range.js';
import { Float32Arena } from './float32-arena.js';
import { HashKeyOrder } from './hash-key-order.js';
import { type RangeScan, type ScanBudget, scanRange } from './range-scan.js';
import { RangeWords, type TableRange } from './table-range.js';

/** How a {@link KVTable} stores its values, beyond dtype and states. */
export interface KVTableOptions {
  /** Keys stored by index instead of by hash (see {@link DenseRange}). Default: none. */
  denseRange?: DenseRange | undefined;
  /**
   * Keep slab 0 of a float32 table in a `WebAssembly.Memory` (`Float32Arena`), so that the
   * sum rule adds long runs with SIMD. Ignored for float64 and where WebAssembly is missing.
   * Default false.
   */
  wasmSlab?: boolean | undefined;
}

const EMPTY = -1;

/**
 * A server's store for one app: an open-addressing hash table from 64-bit keys to a slice of
 * values, built on typed arrays (no object and no BigInt per key). Each key owns `len` values
 * at `offset` in every one of `states` value slabs; an update rule (SGD, AdaGrad, FTRL) keeps
 * its per-coordinate state in the extra slabs.
 *
 * Keys are hashed from their two 32-bit words; the table doubles at half load. With a
 * {@link DenseRange} the keys of that range are not hashed at all: slot `(key - base) >> shift`
 * indexes the first `count * width` values of every slab directly and a bitmap marks the stored
 * ones (a missing key still reads as zero, and exports and {@link KVTable.keys} list only stored
 * keys). Every other key goes to the hash part, whose values follow the dense ones.
 *
 * Entries (what {@link KVTable.lookup} returns): a dense key's entry is its slot; a hashed key's
 * is `count` (0 without a dense range) plus its insertion rank. Entries never move.
 */
export class KVTable {
  /** Number of keys stored. */
  size = 0;
  /**
   * Value slabs, `states` of them, all with the same layout. A slab is replaced when the table
   * grows, and slab 0 of a table with a WebAssembly slab also when a long push grows its memory
   * (the old view is then detached): read `table.slabs[s]` afresh after a push, never keep one.
   */
  slabs: ValArray[];
  /** Values per key when every push so far had the same width; `undefined` before the first push. */
  width: number | undefined;

  private buckets: Int32Array;
  private mask: number;
  private keyLo: Uint32Array;
  private keyHi: Uint32Array;
  private offsets: Int32Array;
  private lengths: Int32Array;
  private used = 0;
  private scratch = new Int32Array(1024);
  /** Keys in the hash part. */
  private hashed = 0;
  /** The dense range, if any; `base` = its slot count (0 without one): entry of hashed key h is base + h. */
  private readonly dense: DenseLayout | undefined;
  private readonly base: number;
  private readonly denseWidth: number;
  /** Bit i set: slot i of the dense range is stored. */
  private readonly present: Uint32Array;
  /** Keys of the dense range that live in the hash part (pushed with another width). */
  private strays = 0;

  /**
   * @param dtype value type of every slab
   * @param states value slabs per key (the update rule's state)
   * @param initialCapacity keys the hash part is sized for (it doubles as it fills)
   * @param options a dense range, and where slab 0 lives (see {@link KVTableOptions})
   * @throws PsError `PS_ERR_CONFIG` for a `denseRange` out of bounds.
   */
  constructor(
    readonly dtype: ValDtype = 'float32',
    readonly states = 1,
    initialCapacity = 1024,
    options: KVTableOptions = {},
  ) {
    const denseRange = options.denseRange;
    this.dense = denseRange ? denseLayout(denseRange) : undefined;
    this.base = this.dense?.count ?? 0;
    this.denseWidth = this.dense?.width ?? 0;
    this.present = new Uint32Array(Math.ceil(this.base / 32));
    this.used = this.base * this.denseWidth;
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.buckets = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.keyLo = new Uint32Array(cap / 2);
    this.keyHi = new Uint32Array(cap / 2);
    this.offsets = new Int32Array(cap / 2);
    this.lengths = new Int32Array(cap / 2);
    this.slabs = [];
    const n = this.used + cap / 2;
    this.arena = options.wasmSlab && dtype === 'float32' ? Float32Arena.create(n) : undefined;
    for (let s = 0; s < states; s++) this.slabs.push(s === 0 && this.arena ? this.arena.slab : this.alloc(n));
    if (this.arena) this.arena.onMove = (slab) => (this.slabs[0] = slab);
  }

  /** Slab 0's WebAssembly arena, when it has one (see {@link KVTableOptions.wasmSlab}). */
  private arena: Float32Arena | undefined;

  /** The dense range as checked (words of `base`, `shift`, `count`, `width`), or `undefined`. */
  get denseRange(): DenseLayout | undefined {
    return this.dense;
  }

  private alloc(n: number): ValArray {
    return this.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  }

  /** Value offset of entry `e` in every slab. */
  offsetOf(e: number): number {
    return e < this.base ? e * this.denseWidth : this.offsets[e - this.base]!;
  }

  /** Number of values of entry `e`. */
  lengthOf(e: number): number {
    return e < this.base ? this.denseWidth : this.lengths[e - this.base]!;
  }

  /** Entry of the key `(lo, hi)`, or -1 when it is not stored. */
  private entryOf(lo: number, hi: number): number {
    if (this.dense) {
      const i = denseSlot(this.dense, lo, hi);
      if (i >= 0 && (this.present[i >>> 5]! & (1 << (i & 31))) !== 0) return i;
      if (i >= 0 && this.strays === 0) return -1;
    }
    const h = this.findEntry(lo, hi);
    return h < 0 ? -1 : this.base + h;
  }

  /** Writes entry `e`'s key words to `out[at]`, `out[at + 1]`. */
  private keyWordsOf(e: number, out: Uint32Array, at: number): void {
    if (e < this.base) denseKeyWords(this.dense!, e, out, at);
    else {
      out[at] = this.keyLo[e - this.base]!;
      out[at + 1] = this.keyHi[e - this.base]!;
    }
  }

  /** Every stored entry, dense slots ascending then hashed keys in insertion order. */
  private entries(): Int32Array {
    const out = new Int32Array(this.size);
    let m = 0;
    const p = this.present;
    for (let wi = 0; wi < p.length; wi++) {
      let bits = p[wi]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        out[m++] = wi * 32 + b;
        bits &= bits - 1;
      }
    }
    for (let h = 0; h < this.hashed; h++) out[m++] = this.base + h;
    return out;
  }

  private static hash(lo: number, hi: number): number {
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  private findEntry(lo: number, hi: number): number {
    let b = KVTable.hash(lo, hi) & this.mask;
    for (;;) {
      const e = this.buckets[b]!;
      if (e === EMPTY) return -1 - b;
      if (this.keyLo[e] === lo && this.keyHi[e] === hi) return e;
      b = (b + 1) & this.mask;
    }
  }

  private grow(): void {
    const cap = this.buckets.length * 2;
    this.buckets = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    const grown = <T extends Int32Array | Uint32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap / 2);
      b.set(a);
      return b;
    };
    this.keyLo = grown(this.keyLo);
    this.keyHi = grown(this.keyHi);
    this.offsets = grown(this.offsets);
    this.lengths = grown(this.lengths);
    for (let e = 0; e < this.hashed; e++) {
      let b = KVTable.hash(this.keyLo[e]!, this.keyHi[e]!) & this.mask;
      while (this.buckets[b] !== EMPTY) b = (b + 1) & this.mask;
      this.buckets[b] = e;
    }
  }

  private reserveValues(n: number): number {
    const at = this.used;
    const need = at + n;
    const cur = this.slabs[0]!.length;
    if (need > cur) {
      let cap = Math.max(cur * 2, 1024);
      while (cap < need) cap *= 2;
      this.slabs = this.slabs.map((s, i) => {
        if (i === 0 && this.arena) {
          try {
            // Grows in place: no copy, only the new floats zeroed (scratch may have used them).
            this.arena.reserve(cap);
            return this.arena.slab.fill(0, cur);
          } catch {
            this.arena.onMove = () => {};
            this.arena = undefined; // past 4 GiB: slab 0 becomes a plain array
          }
        }
        const b = this.alloc(cap);
        b.set(s);
        return b;
      });
    }
    this.used = need;
    return at;
  }

  /**
   * Entry of `keys[i]` (words at `w[2i]`), or -1 when not stored.
   * @throws PsError `PS_ERR_LENS_CONFLICT` with `create` when the stored length differs.
   */
  private probe(
    keys: BigUint64Array,
    w: Uint32Array,
    i: number,
    create: boolean,
    width: number,
    lens: Int32Array | undefined,
  ): number {
    const lo = w[2 * i]!;
    const hi = w[2 * i + 1]!;
    let e = -1;
    let len = 0;
    const slot = this.dense ? denseSlot(this.dense, lo, hi) : -1;
    if (slot >= 0 && (this.present[slot >>> 5]! & (1 << (slot & 31))) !== 0) {
      e = slot;
      len = this.denseWidth;
    } else if (slot < 0 || this.strays > 0) {
      const h = this.findEntry(lo, hi);
      if (h >= 0) {
        e = this.base + h;
        len = this.lengths[h]!;
      }
    }
    if (e >= 0 && create) {
      const want = lens ? lens[i]! : width;
      if (len !== want) {
        throw new PsError(
          PsErrorCode.LENS_CONFLICT,
          `key ${keys[i]} holds ${len} values, the push gives it ${want}; a key keeps its length`,
          { index: i },
        );
      }
    }
    return e;
  }

  /**
   * Entries of `keys` (a scratch `Int32Array` of `keys.length`, valid until the next call).
   * With `create`, missing keys are inserted with `width` values (or `lens[i]`) set to zero;
   * without, a missing key gets -1.
   * @throws PsError `PS_ERR_LENS_CONFLICT` (before changing anything) when an existing key
   *   holds a different number of values than the request gives it.
   */
  lookup(keys: BigUint64Array, create: boolean, width = 1, lens?: Int32Array): Int32Array {
    const n = keys.length;
    if (this.scratch.length < n) this.scratch = new Int32Array(Math.max(n, this.scratch.length * 2));
    const out = this.scratch;
    const w = keyWords(keys);
    const d = this.dense;
    const present = this.present;
    const base = this.base;
    let missing = 0;
    if (
      d &&
      this.strays === 0 &&
      !lens &&
      (!create || width === this.denseWidth) &&
      denseLookup(d, present, w, n, out)
    ) {
      // Dense keys resolved in the tight loop; only the others (-2) take the general probe.
      missing = denseCounts[0]!;
      if (denseCounts[1]! > 0) {
        for (let i = 0; i < n; i++) {
          if (out[i] !== -2) continue;
          const e = this.probe(keys, w, i, create, width, lens);
          if (e < 0) missing++;
          out[i] = e;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const e = this.probe(keys, w, i, create, width, lens);
        if (e < 0) missing++;
        out[i] = e;
      }
    }
    if (create && missing > 0) {
      if (lens === undefined) {
        if (this.width === undefined) this.width = width;
        else if (this.width !== width) this.width = -1;
      } else this.width = -1;
      for (let i = 0; i < n; i++) {
        if (out[i]! >= 0) continue;
        const lo = w[2 * i]!;
        const hi = w[2 * i + 1]!;
        const len = lens ? lens[i]! : width;
        const slot = d ? denseSlot(d, lo, hi) : -1;
        if (slot >= 0 && len === this.denseWidth) {
          // A key listed twice in one request is inserted once.
          if ((present[slot >>> 5]! & (1 << (slot & 31))) === 0) {
            present[slot >>> 5] = present[slot >>> 5]! | (1 << (slot & 31));
            this.size++;
          }
          out[i] = slot;
          continue;
        }
        let found = this.findEntry(lo, hi);
        if (found >= 0) {
          out[i] = base + found;
          continue;
        }
        if ((this.hashed + 1) * 2 > this.buckets.length) {
          this.grow();
          found = this.findEntry(lo, hi);
        }
        const at = -1 - found;
        const h = this.hashed++;
        this.size++;
        if (slot >= 0) this.strays++;
        this.buckets[at] = h;
        this.keyLo[h] = lo;
        this.keyHi[h] = hi;
        this.lengths[h] = len;
        this.offsets[h] = this.reserveValues(len);
        out[i] = base + h;
      }
    }
    return out;
  }

  /**
   * Every stored key lying in one of `ranges`, in ascending order, with its length and its values
   * in every slab (copies: later changes to the table do not show in the result).
   *
   * Cost: one pass over all stored keys (O(log ranges) each, on 32-bit words), then a sort of the
   * selected keys and a copy of their values.
   * @param ranges half-open ranges `[begin, end)`, sorted and disjoint; `end` may be
   *   `KEY_SPACE_END` (2^64). Empty ranges are allowed and select nothing.
   * @returns a {@link TableRange} with this table's `dtype` and `states`; keys zeroed by
   *   {@link KVTable.importRanges} are included (with zero values).
   * @throws PsError `PS_ERR_MESSAGE_INVALID` when `ranges` are not sorted, disjoint ranges of
   *   `[0, 2^64]`.
   */
  exportRanges(ranges: readonly KeyRange[]): TableRange {
    const rw = new RangeWords(ranges);
    const all = this.entries();
    const kw = new Uint32Array(2);
    let selected = new Int32Array(all.length);
    let m = 0;
    if (rw.length > 0) {
      for (let j = 0; j < all.length; j++) {
        this.keyWordsOf(all[j]!, kw, 0);
        if (rw.contains(kw[0]!, kw[1]!)) selected[m++] = all[j]!;
      }
    }
    selected = selected.subarray(0, m);
    const keys = new BigUint64Array(m);
    const w = keyWords(keys);
    for (let i = 0; i < m; i++) this.keyWordsOf(selected[i]!, w, 2 * i);
    // Dense slots come out ascending; only hashed keys need the sort (and a probe per key after).
    let entries = selected;
    if (this.hashed > 0 && m > 1) {
      keys.sort();
      entries = new Int32Array(m);
      for (let i = 0; i < m; i++) entries[i] = this.entryOf(w[2 * i]!, w[2 * i + 1]!);
    }
    const lens = new Int32Array(m);
    let total = 0;
    for (let i = 0; i < m; i++) {
      const len = this.lengthOf(entries[i]!);
      lens[i] = len;
      total += len;
    }
    const slabs = this.slabs.map((src) => {
      const dst = this.alloc(total);
      let o = 0;
      for (let i = 0; i < m; i++) {
        const len = lens[i]!;
        copyVals(dst, o, src, this.offsetOf(entries[i]!), len);
        o += len;
      }
      return dst;
    });
    return { keys, lens, slabs, dtype: this.dtype, states: this.states };
  }

  /**
   * Makes the table's content inside `ranges` equal to `data`: every stored key inside the
   * ranges that `data` does not hold gets its values set to zero in every slab (the table cannot
   * delete keys; a zero key reads like a missing one, except that a table with variable lengths
   * returns its zeros rather than no values), and every key of `data` is inserted if missing and
   * gets its values from `data` in every slab. Keys outside the ranges are not touched. Keys
   * inserted with one common length keep {@link KVTable.width} as a push of that width would.
   *
   * All checks run before anything changes: a call that throws leaves the table as it was.
   * @param ranges half-open ranges `[begin, end)`, sorted and disjoint (`end` may be 2^64).
   * @param data keys strictly increasing and all inside `ranges`, lengths and slabs as
   *   described by {@link TableRange}. Its arrays are copied, not kept.
   * @throws PsError `PS_ERR_DTYPE` when `data.dtype` or `data.states` differ from the table's, or
   *   a slab is not an array of that dtype; `PS_ERR_LENS_CONFLICT` when a stored key has another
   *   length than `data` gives it; `PS_ERR_MESSAGE_INVALID` when `ranges` are not sorted disjoint
   *   ranges, `data.keys` are not strictly increasing or not inside `ranges`, or `lens` and the
   *   slab lengths do not add up.
   */
  importRanges(ranges: readonly KeyRange[], data: TableRange): void {
    if (data.dtype !== this.dtype || data.states !== this.states) {
      throw new PsError(
        PsErrorCode.DTYPE,
        `table range of ${data.states} ${data.dtype} slab(s) does not fit a table of ${this.states} ${this.dtype} slab(s); import into a table made by the same handler`,
        { dtype: data.dtype, states: data.states },
      );
    }
    const rw = new RangeWords(ranges);
    const { keys, lens, slabs } = data;
    if (!(keys instanceof BigUint64Array) || !(lens instanceof Int32Array) || lens.length !== keys.length) {
      throw new PsError(
        PsErrorCode.MESSAGE_INVALID,
        'table range needs keys as a BigUint64Array and lens as an Int32Array of the same length',
      );
    }
    const n = keys.length;
    const w = keyWords(keys);
    let total = 0;
    let uniform = true;
    const width = n > 0 ? lens[0]! : 0;
    for (let i = 0; i < n; i++) {
      const lo = w[2 * i]!;
      const hi = w[2 * i + 1]!;
      if (i > 0) {
        const phi = w[2 * i - 1]!;
        if (hi < phi || (hi === phi && lo <= w[2 * i - 2]!)) {
          throw new PsError(
            PsErrorCode.MESSAGE_INVALID,
            `table range keys must be strictly increasing: keys[${i - 1}]=${keys[i - 1]}, keys[${i}]=${keys[i]}`,
            { index: i },
          );
        }
      }
      if (!rw.contains(lo, hi)) {
        throw new PsError(
          PsErrorCode.MESSAGE_INVALID,
          `table range key ${keys[i]} (index ${i}) lies outside the ranges being imported`,
          { index: i },
        );
      }
      const len = lens[i]!;
      if (len < 0) {
        throw new PsError(PsErrorCode.MESSAGE_INVALID, `table range lens[${i}] is negative (${len})`, {
          index: i,
        });
      }
      if (len !== width) uniform = false;
      total += len;
    }
    if (!Array.isArray(slabs) || slabs.length !== this.states) {
      throw new PsError(
        PsErrorCode.MESSAGE_INVALID,
        `table range must carry ${this.states} slab(s), got ${Array.isArray(slabs) ? slabs.length : typeof slabs}`,
      );
    }
    const Ctor = this.dtype === 'float64' ? Float64Array : Float32Array;
    for (let s = 0; s < slabs.length; s++) {
      const slab = slabs[s];
      if (!(slab instanceof Ctor)) {
        throw new PsError(PsErrorCode.DTYPE, `table range slab ${s} must be a ${Ctor.name}`, { slab: s });
      }
      if (slab.length !== total) {
        throw new PsError(
          PsErrorCode.MESSAGE_INVALID,
          `table range slab ${s} holds ${slab.length} values, its lens add up to ${total}`,
          { slab: s, vals: slab.length, sum: total },
        );
      }
    }
    // Inserts missing keys; throws PS_ERR_LENS_CONFLICT before changing anything.
    const entries =
      n === 0
        ? new Int32Array(0)
        : uniform
          ? this.lookup(keys, true, width)
          : this.lookup(keys, true, 0, lens);
    if (rw.length > 0) {
      const inData = new Uint8Array(this.base + this.hashed);
      for (let i = 0; i < n; i++) inData[entries[i]!] = 1;
      const all = this.entries();
      const kw = new Uint32Array(2);
      for (let j = 0; j < all.length; j++) {
        const e = all[j]!;
        if (inData[e] === 1) continue;
        this.keyWordsOf(e, kw, 0);
        if (!rw.contains(kw[0]!, kw[1]!)) continue;
        const off = this.offsetOf(e);
        const end = off + this.lengthOf(e);
        for (const slab of this.slabs) slab.fill(0, off, end);
      }
    }
    for (let s = 0; s < this.states; s++) {
      const dst = this.slabs[s]!;
      const src = slabs[s]!;
      let vi = 0;
      for (let i = 0; i < n; i++) {
        const len = lens[i]!;
        copyVals(dst, this.offsetOf(entries[i]!), src, vi, len);
        vi += len;
      }
    }
  }

  /**
   * The stored keys in `range` (`[begin, end)`, `end` up to 2^64), ascending, with their entries,
   * up to `budget` (keys, and bytes counted per key); `next` is the first stored key of the range
   * left out, `undefined` when none was. Copies no values: read them by entry right after (a later
   * push may move the slabs). The hashed keys' sorted order is built on the first call (4 bytes a
   * key) and extended with the keys inserted since on later ones.
   */
  scanRange(range: KeyRange, budget: ScanBudget): RangeScan {
    this.hashOrder ??= new HashKeyOrder();
    const order = this.hashOrder.update(this.keyLo, this.keyHi, this.hashed, (lo, hi) =>
      this.findEntry(lo, hi),
    );
    return scanRange(
      {
        dense: this.dense,
        present: this.present,
        base: this.base,
        order,
        keyLo: this.keyLo,
        keyHi: this.keyHi,
        lengthOf: (e) => this.lengthOf(e),
      },
      range,
      budget,
    );
  }

  /** The hashed keys in key order, made by the first {@link KVTable.scanRange}. */
  private hashOrder: HashKeyOrder | undefined;

  /**
   * The keys stored (for snapshots and tests): the dense range's in ascending order, then the
   * hashed ones in insertion order.
   */
  keys(): BigUint64Array {
    const all = this.entries();
    const out = new BigUint64Array(all.length);
    const w = keyWords(out);
    for (let j = 0; j < all.length; j++) this.keyWordsOf(all[j]!, w, 2 * j);
    return out;
  }
}

/** Copies `len` values; a loop for short runs (no subarray view per key), `set` for long ones. */
function copyVals(dst: ValArray, dOff: number, src: ValArray, sOff: number, len: number): void {
  if (len >= 64) dst.set(src.subarray(sOff, sOff + len), dOff);
  else for (let j = 0; j < len; j++) dst[dOff + j] = src[sOff + j]!;
}
