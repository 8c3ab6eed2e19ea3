/**
 * The hashed keys of a `KVTable` in ascending key order, as a list of their insertion ranks
 * (internal; what a range scan walks). Built on the first range scan and kept up to date
 * lazily: keys are never removed from a table and ranks never move, so the keys inserted since
 * the last scan are sorted on their own and merged in, O(new log new + all) per scan after the
 * table grew and O(1) when it did not.
 *
 * Memory: 4 bytes per hashed key, nothing per dense key.
 */
export class HashKeyOrder {
  /** Ranks `0 .. indexed` sorted by key. */
  private order = new Int32Array(0);
  private indexed = 0;

  /**
   * The ranks of the first `hashed` hashed keys, ascending by key.
   * @param keyLo low words of the keys by rank
   * @param keyHi high words of the keys by rank
   * @param hashed how many hashed keys the table holds now (never fewer than before)
   * @param rankOf rank of the hashed key with these words (it is stored)
   */
  update(
    keyLo: Uint32Array,
    keyHi: Uint32Array,
    hashed: number,
    rankOf: (lo: number, hi: number) => number,
  ): Int32Array {
    if (hashed === this.indexed) return this.order;
    // The new keys sorted natively as 64-bit integers, then found again by hash.
    const fresh = new BigUint64Array(hashed - this.indexed);
    const w = new Uint32Array(fresh.buffer);
    for (let i = 0; i < fresh.length; i++) {
      w[2 * i] = keyLo[this.indexed + i]!;
      w[2 * i + 1] = keyHi[this.indexed + i]!;
    }
    fresh.sort();
    const merged = new Int32Array(hashed);
    const old = this.order;
    let a = 0;
    let m = 0;
    for (let b = 0; b < fresh.length; b++) {
      const lo = w[2 * b]!;
      const hi = w[2 * b + 1]!;
      // Old ranks whose key is below this new key come first (keys are distinct).
      while (a < old.length) {
        const r = old[a]!;
        const rh = keyHi[r]!;
        if (rh > hi || (rh === hi && keyLo[r]! > lo)) break;
        merged[m++] = r;
        a++;
      }
      merged[m++] = rankOf(lo, hi);
    }
    while (a < old.length) merged[m++] = old[a++]!;
    this.order = merged;
    this.indexed = hashed;
    return merged;
  }
}
