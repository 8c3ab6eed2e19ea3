/** Keys sampled from a list (the first, the last, and evenly between). */
const SAMPLES = 8;

/**
 * A list's length and its keys at 8 evenly spread positions, to check cheaply that a list is
 * still what it was when sampled. A "no" is certain (the list changed); a "yes" is not a proof
 * (a change between the sampled positions goes unseen), so it only guards a promise made by
 * someone else (a caller's `keysTag`), never replaces a compare.
 */
export class KeySamples {
  private readonly keys = new BigUint64Array(SAMPLES);
  private n = -1;

  /** Samples `keys`. */
  take(keys: BigUint64Array): void {
    const n = keys.length;
    this.n = n;
    for (let s = 0; s < SAMPLES; s++) this.keys[s] = n === 0 ? 0n : keys[position(n, s)]!;
  }

  /** True when `keys` has the length and the sampled keys last taken. */
  same(keys: BigUint64Array): boolean {
    const n = keys.length;
    if (n !== this.n) return false;
    for (let s = 0; s < SAMPLES; s++)
      if (this.keys[s] !== (n === 0 ? 0n : keys[position(n, s)]!)) return false;
    return true;
  }
}

function position(n: number, s: number): number {
  return Math.floor(((n - 1) * s) / (SAMPLES - 1));
}
