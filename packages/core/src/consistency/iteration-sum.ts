import { PsError, PsErrorCode } from '../errors.js';
import type { KVPairs, ValArray } from '../wire/kv-pairs.js';

/**
 * The sum of the pushes of one iteration on one server (aggregation on servers, the sync mode):
 * the union of their keys, in order, and per key the sum of what each push gave it (a key a
 * push does not name counts as zero there). Sums run in float64 and come out in the dtype of the
 * first push, so that the update rule sees one push, as if a single worker had sent the total.
 *
 * Fixed width only: every push gives each key the same number of values (`vals.length /
 * keys.length`); a push with `lens`, or with another width than the first, is refused with
 * `PS_ERR_SYNC`. Memory: one key and one float64 per value of the union, whatever the number of
 * pushes; adding a push costs O(union + push) (O(push) when it names the same keys as the sum).
 */
export class IterationSum {
  private keys = new BigUint64Array(0);
  private vals = new Float64Array(0);
  private width = -1;
  private float64 = false;
  /** Pushes added so far. */
  count = 0;

  /** Keys in the union so far. */
  get size(): number {
    return this.keys.length;
  }

  /**
   * Adds a push (keys strictly increasing, as every validated KVPairs).
   * @throws PsError `PS_ERR_SYNC` for a push with `lens` or another width than earlier pushes.
   */
  add(kv: KVPairs): void {
    const n = kv.keys.length;
    if (kv.lens) {
      throw new PsError(
        PsErrorCode.SYNC,
        'a push in sync mode gives every key the same number of values; drop lens, or push without an iteration',
      );
    }
    if (n === 0) {
      this.count++;
      return;
    }
    const width = kv.vals.length / n;
    if (this.width < 0) {
      this.width = width;
      this.float64 = kv.vals instanceof Float64Array;
    } else if (width !== this.width) {
      throw new PsError(
        PsErrorCode.SYNC,
        `a push of this iteration gives ${width} values per key, an earlier one ${this.width}; push the same width each iteration`,
      );
    }
    this.count++;
    if (this.keys.length === 0) {
      this.keys = kv.keys.slice();
      this.vals = Float64Array.from(kv.vals);
      return;
    }
    if (sameKeys(this.keys, kv.keys)) {
      addInto(this.vals, 0, kv.vals, 0, n * width);
      return;
    }
    this.merge(kv.keys, kv.vals, width);
  }

  /** Merges a sorted push into the sorted union. */
  private merge(keys: BigUint64Array, vals: ValArray, width: number): void {
    const a = this.keys;
    const av = this.vals;
    const outKeys = new BigUint64Array(a.length + keys.length);
    const outVals = new Float64Array(outKeys.length * width);
    let i = 0;
    let j = 0;
    let o = 0;
    while (i < a.length || j < keys.length) {
      const ka = i < a.length ? a[i]! : undefined;
      const kb = j < keys.length ? keys[j]! : undefined;
      if (kb === undefined || (ka !== undefined && ka < kb)) {
        outKeys[o] = ka!;
        addInto(outVals, o * width, av, i * width, width);
        i++;
      } else if (ka === undefined || kb < ka) {
        outKeys[o] = kb;
        addInto(outVals, o * width, vals, j * width, width);
        j++;
      } else {
        outKeys[o] = ka;
        addInto(outVals, o * width, av, i * width, width);
        addInto(outVals, o * width, vals, j * width, width);
        i++;
        j++;
      }
      o++;
    }
    this.keys = o === outKeys.length ? outKeys : outKeys.slice(0, o);
    this.vals = o === outKeys.length ? outVals : outVals.slice(0, o * width);
  }

  /** The sum as one push: the union of the keys and their summed values (fresh arrays). */
  result(): KVPairs {
    const vals = this.float64 ? this.vals.slice() : Float32Array.from(this.vals);
    return { keys: this.keys.slice(), vals };
  }
}

function sameKeys(a: BigUint64Array, b: BigUint64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function addInto(out: Float64Array, oi: number, src: ValArray, si: number, n: number): void {
  for (let k = 0; k < n; k++) out[oi + k] = out[oi + k]! + src[si + k]!;
}
