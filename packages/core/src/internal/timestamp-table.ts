/** Smallest ring (slots). */
const MIN_SLOTS = 16;
/** The ring doubles on a collision while it has fewer slots than this many times the entries. */
const SLOTS_PER_ENTRY = 4;
/** Marks a free slot (timestamps are non-negative). */
const FREE = -1;

/**
 * Values keyed by timestamps (non-negative safe integers, issued in increasing order and
 * mostly removed in about that order): a worker's requests in flight, set when a request is
 * issued and deleted when it is answered. The table is a ring of slots indexed by
 * `ts mod slots`. On a collision the ring doubles while it holds fewer than 4 slots an entry.
 * Past that, the older of the two entries moves to a dictionary of outliers (one request held
 * long while thousands pass). So memory follows the entries held, never the span of
 * timestamps. get, set and delete are O(1); `keys`, `values` and `entries` sort, O(n log n).
 *
 * **Why not a `Map`.** V8's `Map` rebuilds its hash table every few dozen inserts when entries
 * are deleted as fast as they are added. The retired table keeps its entries and a link to the
 * table that replaced it. Once a full GC moves the live table to the old generation, each
 * retired table keeps the next one alive, with its values, through every young-generation GC
 * until the next full one. In this churn, every request's objects then outlive the young
 * generation, and each scavenge copies megabytes. `packages/apps/scripts/tcp-cpu.mjs --op pull
 * --keys 1000 --in-flight 8 --requests 20000` under `node --trace-gc-nvp` measured the
 * worker's promoted bytes: 55 MB in 60,000 requests with Maps for the requests in flight and
 * the resend table, 3 MB with this table. docs/benchmarks.md, item 21, gives what that bought.
 */
export class TimestampTable<V> {
  private ts: Float64Array = new Float64Array(MIN_SLOTS).fill(FREE);
  private vals: (V | undefined)[] = new Array<V | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  private inRing = 0;
  /** Outliers: a dictionary object, not a Map (see the class comment). */
  private far: Record<number, V> | undefined;
  private inFar = 0;

  /** Entries held. */
  get size(): number {
    return this.inRing + this.inFar;
  }

  /** The value under `ts`, or undefined. */
  get(ts: number): V | undefined {
    const i = ts & this.mask;
    if (this.ts[i] === ts) return this.vals[i];
    return this.inFar > 0 ? this.far![ts] : undefined;
  }

  has(ts: number): boolean {
    return this.get(ts) !== undefined;
  }

  /**
   * Sets the value under `ts`, a non-negative safe integer (undefined is not a value).
   * @throws RangeError for any other `ts`.
   */
  set(ts: number, value: V): void {
    if (!Number.isSafeInteger(ts) || ts < 0)
      throw new RangeError(`timestamp ${ts} is not a non-negative safe integer`);
    if (this.inFar > 0 && this.far![ts] !== undefined) {
      this.far![ts] = value;
      return;
    }
    for (;;) {
      const i = ts & this.mask;
      const held = this.ts[i]!;
      if (held === ts) {
        this.vals[i] = value;
        return;
      }
      if (held === FREE) {
        this.ts[i] = ts;
        this.vals[i] = value;
        this.inRing++;
        return;
      }
      if (this.ts.length < SLOTS_PER_ENTRY * (this.size + 1)) {
        this.grow();
        continue;
      }
      // The ring is sparse enough: the older entry waits among the outliers.
      this.far ??= Object.create(null) as Record<number, V>;
      this.inFar++;
      if (held < ts) {
        this.far[held] = this.vals[i]!;
        this.ts[i] = ts;
        this.vals[i] = value;
      } else this.far[ts] = value;
      return;
    }
  }

  /** Removes the entry under `ts`; true when there was one. */
  delete(ts: number): boolean {
    const i = ts & this.mask;
    if (this.ts[i] === ts) {
      this.ts[i] = FREE;
      this.vals[i] = undefined;
      this.inRing--;
      return true;
    }
    if (this.inFar === 0 || this.far![ts] === undefined) return false;
    delete this.far![ts];
    if (--this.inFar === 0) this.far = undefined;
    return true;
  }

  /** Removes every entry (the ring keeps its size). */
  clear(): void {
    this.ts.fill(FREE);
    this.vals.fill(undefined);
    this.inRing = 0;
    this.far = undefined;
    this.inFar = 0;
  }

  /** Timestamps held, in increasing order (a copy). */
  keys(): number[] {
    return this.entries().map((e) => e[0]);
  }

  /** Values held, in increasing order of their timestamps (a copy). */
  values(): V[] {
    return this.entries().map((e) => e[1]);
  }

  /** `[ts, value]` pairs held, in increasing order of timestamp (a copy). */
  entries(): [number, V][] {
    const out: [number, V][] = [];
    for (let i = 0; i < this.ts.length; i++) if (this.ts[i] !== FREE) out.push([this.ts[i]!, this.vals[i]!]);
    if (this.far) for (const k of Object.keys(this.far)) out.push([Number(k), this.far[Number(k)]!]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Doubles the ring; outliers whose slot is then free move back into it. */
  private grow(): void {
    const oldTs = this.ts;
    const oldVals = this.vals;
    const slots = oldTs.length * 2;
    this.ts = new Float64Array(slots).fill(FREE);
    this.vals = new Array<V | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
    // Keys apart mod n are apart mod 2n: moving the ring's entries never collides.
    for (let i = 0; i < oldTs.length; i++) {
      const t = oldTs[i]!;
      if (t === FREE) continue;
      const j = t & this.mask;
      this.ts[j] = t;
      this.vals[j] = oldVals[i];
    }
    if (this.far === undefined) return;
    for (const k of Object.keys(this.far)) {
      const t = Number(k);
      const j = t & this.mask;
      if (this.ts[j] !== FREE) continue;
      this.ts[j] = t;
      this.vals[j] = this.far[t];
      this.inRing++;
      delete this.far[t];
      this.inFar--;
    }
    if (this.inFar === 0) this.far = undefined;
  }
}
