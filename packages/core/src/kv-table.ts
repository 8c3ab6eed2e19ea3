import { PsError, PsErrorCode } from './errors.js';
import { keyWords, type ValArray, type ValDtype } from './kv-pairs.js';

const EMPTY = -1;

/**
 * A server's store for one app: an open-addressing hash table from 64-bit keys to a slice of
 * values, built on typed arrays (no object and no BigInt per key). Each key owns `len` values
 * at `offset` in every one of `states` value slabs; an update rule (SGD, AdaGrad, FTRL) keeps
 * its per-coordinate state in the extra slabs.
 *
 * Keys are hashed from their two 32-bit words; the table doubles at half load.
 */
export class KVTable {
  /** Number of keys stored. */
  size = 0;
  /** Value slabs, `states` of them, all with the same layout. */
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

  constructor(
    readonly dtype: ValDtype = 'float32',
    readonly states = 1,
    initialCapacity = 1024,
  ) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.buckets = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.keyLo = new Uint32Array(cap / 2);
    this.keyHi = new Uint32Array(cap / 2);
    this.offsets = new Int32Array(cap / 2);
    this.lengths = new Int32Array(cap / 2);
    this.slabs = [];
    for (let s = 0; s < states; s++) this.slabs.push(this.alloc(cap / 2));
  }

  private alloc(n: number): ValArray {
    return this.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  }

  /** Value offset of entry `e` in every slab. */
  offsetOf(e: number): number {
    return this.offsets[e]!;
  }

  /** Number of values of entry `e`. */
  lengthOf(e: number): number {
    return this.lengths[e]!;
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
    for (let e = 0; e < this.size; e++) {
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
      this.slabs = this.slabs.map((s) => {
        const b = this.alloc(cap);
        b.set(s);
        return b;
      });
    }
    this.used = need;
    return at;
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
    let missing = 0;
    for (let i = 0; i < n; i++) {
      const e = this.findEntry(w[2 * i]!, w[2 * i + 1]!);
      if (e >= 0 && create) {
        const want = lens ? lens[i]! : width;
        if (this.lengths[e] !== want) {
          throw new PsError(
            PsErrorCode.LENS_CONFLICT,
            `key ${keys[i]} holds ${this.lengths[e]} values, the push gives it ${want}; a key keeps its length`,
            { index: i },
          );
        }
      }
      if (e < 0) missing++;
      out[i] = e < 0 ? -1 : e;
    }
    if (create && missing > 0) {
      if (lens === undefined) {
        if (this.width === undefined) this.width = width;
        else if (this.width !== width) this.width = -1;
      } else this.width = -1;
      for (let i = 0; i < n; i++) {
        if (out[i]! >= 0) continue;
        if ((this.size + 1) * 2 > this.buckets.length) this.grow();
        const lo = w[2 * i]!;
        const hi = w[2 * i + 1]!;
        const slot = -1 - this.findEntry(lo, hi);
        const e = this.size++;
        this.buckets[slot] = e;
        this.keyLo[e] = lo;
        this.keyHi[e] = hi;
        const len = lens ? lens[i]! : width;
        this.lengths[e] = len;
        this.offsets[e] = this.reserveValues(len);
        out[i] = e;
      }
    }
    return out;
  }

  /** The keys stored, in insertion order (for snapshots and tests). */
  keys(): BigUint64Array {
    const out = new BigUint64Array(this.size);
    const w = keyWords(out);
    for (let e = 0; e < this.size; e++) {
      w[2 * e] = this.keyLo[e]!;
      w[2 * e + 1] = this.keyHi[e]!;
    }
    return out;
  }
}
