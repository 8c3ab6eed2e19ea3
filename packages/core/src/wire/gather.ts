import type { KVPairs, ValArray } from './kv-pairs.js';

/**
 * Index intervals of a key list: `[begin0, end0, begin1, end1, ...]`, in increasing order,
 * non-overlapping (end exclusive).
 */
export type Intervals = readonly number[];

/** Number of keys in `iv`. */
export function intervalCount(iv: Intervals): number {
  let n = 0;
  for (let i = 0; i < iv.length; i += 2) n += iv[i + 1]! - iv[i]!;
  return n;
}

/**
 * The keys (and values, and lens) of `kv` at the index intervals `iv`: views without a copy when
 * `iv` is one interval, else fresh arrays. `valOffsets[i]` is where key i's values start (only
 * needed with `lens`; without, every key has `vals.length / keys.length` values).
 */
export function gatherKV(kv: KVPairs, iv: Intervals, withVals: boolean, valOffsets?: Int32Array): KVPairs {
  const { keys, vals, lens } = kv;
  const width = !lens && keys.length > 0 ? vals.length / keys.length : 0;
  const from = (i: number) => (lens ? valOffsets![i]! : i * width);
  if (iv.length === 2) {
    const b = iv[0]!;
    const e = iv[1]!;
    // The whole list (one server): the request's own arrays, no views to make.
    if (b === 0 && e === keys.length) return withVals ? kv : { keys, vals: vals.subarray(0, 0) };
    return {
      keys: keys.subarray(b, e),
      vals: withVals ? vals.subarray(from(b), from(e)) : vals.subarray(0, 0),
      lens: withVals && lens ? lens.subarray(b, e) : undefined,
    };
  }
  const n = intervalCount(iv);
  const outKeys = new BigUint64Array(n);
  let nv = 0;
  for (let i = 0; i < iv.length; i += 2) nv += from(iv[i + 1]!) - from(iv[i]!);
  const outVals: ValArray =
    vals instanceof Float64Array ? new Float64Array(withVals ? nv : 0) : new Float32Array(withVals ? nv : 0);
  const outLens = withVals && lens ? new Int32Array(n) : undefined;
  let k = 0;
  let v = 0;
  for (let i = 0; i < iv.length; i += 2) {
    const b = iv[i]!;
    const e = iv[i + 1]!;
    outKeys.set(keys.subarray(b, e), k);
    if (outLens && lens) outLens.set(lens.subarray(b, e), k);
    k += e - b;
    if (withVals) {
      outVals.set(vals.subarray(from(b), from(e)), v);
      v += from(e) - from(b);
    }
  }
  return { keys: outKeys, vals: outVals, lens: outLens };
}

/** Value offsets of a KVPairs with `lens`: `out[i]` is where key i's values start; `out[n]` the total. */
export function valueOffsets(lens: Int32Array): Int32Array {
  const out = new Int32Array(lens.length + 1);
  for (let i = 0; i < lens.length; i++) out[i + 1] = out[i]! + lens[i]!;
  return out;
}
