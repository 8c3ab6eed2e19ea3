/** Keys sampled from a list (the first, the last, and evenly between). */
const SAMPLES = 8;

/**
 * Tells, without copying a key list, whether it looks like the list seen just before it: the
 * same length and the same keys at {@link SAMPLES} evenly spread positions. A "no" is certain
 * (the lists differ); a "yes" is a hint to confirm by a full compare. Caches use it to keep a
 * copy of a list only once it repeats, so that a job whose lists never repeat (each minibatch
 * its own keys) pays a few reads per list instead of a copy of 8 bytes per key.
 */
export class RepeatHint {
  private readonly last = new BigUint64Array(SAMPLES + 1);
  private seen = false;

  /** Records `keys` as the latest list; true when it samples the same as the one before. */
  see(keys: BigUint64Array): boolean {
    const n = keys.length;
    const last = this.last;
    let same = this.seen && last[SAMPLES] === BigInt(n);
    last[SAMPLES] = BigInt(n);
    for (let s = 0; s < SAMPLES; s++) {
      const k = n === 0 ? 0n : keys[Math.floor(((n - 1) * s) / (SAMPLES - 1))]!;
      if (last[s] !== k) same = false;
      last[s] = k;
    }
    this.seen = true;
    return same;
  }
}
