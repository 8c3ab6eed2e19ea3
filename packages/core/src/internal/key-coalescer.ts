const EMPTY = new BigUint64Array(0);

/**
 * The keys updated since a subscriber's last batch, each held once however often it was
 * updated: key arrays are appended as they come (copied, so no frame buffer is retained) and
 * merged into one sorted, distinct list when they outgrow it (or a batch is cut). The raw part
 * never exceeds `max(compactAt, distinct)` keys, so the memory is at most about
 * `2 × distinct + compactAt` keys of 8 bytes: bounded by the keys that changed, never by the
 * number of updates or the time a subscriber takes. Merging costs O(log n) per key, amortised.
 */
export class KeyCoalescer {
  private chunks: BigUint64Array[] = [];
  private raw = 0;
  private merged: BigUint64Array = EMPTY;

  constructor(private readonly compactAt: number) {}

  /** Keys held (an upper bound of the distinct ones until the next merge). */
  get size(): number {
    return this.merged.length + this.raw;
  }

  /** Records updated keys (any order, repeats allowed); copies them. */
  add(keys: BigUint64Array): void {
    if (keys.length === 0) return;
    this.chunks.push(keys.slice());
    this.raw += keys.length;
    if (this.raw > Math.max(this.compactAt, this.merged.length)) this.compact();
  }

  /** Removes and returns the `max` smallest keys held, strictly increasing. */
  take(max: number): BigUint64Array {
    this.compact();
    const out = this.merged.length <= max ? this.merged : this.merged.slice(0, max);
    this.merged = this.merged.length <= max ? EMPTY : this.merged.subarray(max);
    return out;
  }

  private compact(): void {
    if (this.raw === 0) return;
    const all = new BigUint64Array(this.merged.length + this.raw);
    all.set(this.merged);
    let at = this.merged.length;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.chunks = [];
    this.raw = 0;
    all.sort();
    let n = 0;
    for (let i = 0; i < all.length; i++) {
      if (n === 0 || all[i] !== all[n - 1]) all[n++] = all[i]!;
    }
    this.merged = all.subarray(0, n);
  }
}
