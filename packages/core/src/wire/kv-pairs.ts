import { PsError, PsErrorCode } from '../errors.js';

/** Value arrays a KVPairs may carry: 32- or 64-bit floats. */
export type ValArray = Float32Array | Float64Array;

/** Name of a value dtype, as carried in messages and handler options. */
export type ValDtype = 'float32' | 'float64';

/** The value array of dtype `D`: `Float32Array` for `'float32'`, `Float64Array` for `'float64'`, either when unknown. */
export type ValArrayOf<D extends ValDtype | undefined> = D extends 'float64'
  ? Float64Array
  : D extends 'float32'
    ? Float32Array
    : ValArray;

/**
 * Keys with their values, the unit of every push and pull (DESIGN.md, "Vocabulary").
 *
 * - `keys`: unsigned 64-bit keys, strictly increasing (no duplicates).
 * - `vals`: without `lens`, every key has `vals.length / keys.length` values (key i owns
 *   `vals[i*w .. (i+1)*w)`); with `lens`, key i owns `lens[i]` values, laid out in key order.
 * - `lens`: optional `Int32Array` of `keys.length` non-negative counts summing to `vals.length`.
 *
 * A key that a server does not hold reads as zero (or zero values, with `lens`).
 */
export interface KVPairs<V extends ValArray = ValArray> {
  keys: BigUint64Array;
  vals: V;
  lens?: Int32Array | undefined;
}

/** The dtype name of a value array; throws `PS_ERR_DTYPE` for anything else. */
export function dtypeOf(vals: unknown): ValDtype {
  if (vals instanceof Float32Array) return 'float32';
  if (vals instanceof Float64Array) return 'float64';
  throw new PsError(
    PsErrorCode.DTYPE,
    `values must be a Float32Array or Float64Array, got ${describe(vals)}; convert with Float32Array.from(...)`,
  );
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/**
 * A 32-bit view of 64-bit keys: element `2i` is the low word and `2i+1` the high word of key i
 * (little-endian, which every supported platform is). Lets loops compare and hash keys with
 * plain numbers instead of one BigInt per element.
 */
export function keyWords(keys: BigUint64Array): Uint32Array {
  return new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
}

/**
 * Checks that keys are strictly increasing. O(n) over 32-bit words, no BigInt per element.
 * @throws PsError `PS_ERR_KEYS_UNSORTED` or `PS_ERR_KEYS_DUPLICATE`, with the first offending index.
 */
export function validateKeys(keys: BigUint64Array): void {
  if (!(keys instanceof BigUint64Array)) {
    throw new PsError(PsErrorCode.KEYS_UNSORTED, `keys must be a BigUint64Array, got ${describe(keys)}`);
  }
  const w = keyWords(keys);
  const n = keys.length;
  let phi = w[1] ?? 0;
  let plo = w[0] ?? 0;
  for (let i = 1; i < n; i++) {
    const lo = w[2 * i]!;
    const hi = w[2 * i + 1]!;
    if (hi < phi || (hi === phi && lo <= plo)) {
      if (hi === phi && lo === plo) {
        throw new PsError(
          PsErrorCode.KEYS_DUPLICATE,
          `key ${keys[i]} appears twice (indices ${i - 1} and ${i}); merge the values of duplicate keys before pushing`,
          { index: i },
        );
      }
      throw new PsError(
        PsErrorCode.KEYS_UNSORTED,
        `keys must be strictly increasing: keys[${i - 1}]=${keys[i - 1]} > keys[${i}]=${keys[i]}; sort them (keys.sort()) and reorder the values with them`,
        { index: i },
      );
    }
    phi = hi;
    plo = lo;
  }
}

/**
 * Validates a KVPairs: sorted unique keys, a value array of a supported dtype, and value
 * lengths that match (`vals.length` a multiple of `keys.length`, or the sum of `lens`).
 * `checkKeys` replaces the key check (a memoising validator passes its own).
 * @throws PsError `PS_ERR_KEYS_UNSORTED`, `PS_ERR_KEYS_DUPLICATE`, `PS_ERR_DTYPE`,
 *   `PS_ERR_VALS_LENGTH`, `PS_ERR_LENS_LENGTH`, `PS_ERR_LENS_SUM`.
 */
export function validateKVPairs(kv: KVPairs, checkKeys: (keys: BigUint64Array) => void = validateKeys): void {
  checkKeys(kv.keys);
  dtypeOf(kv.vals);
  const n = kv.keys.length;
  if (kv.lens === undefined) {
    if (n === 0 ? kv.vals.length !== 0 : kv.vals.length % n !== 0) {
      throw new PsError(
        PsErrorCode.VALS_LENGTH,
        `vals.length (${kv.vals.length}) must be a multiple of keys.length (${n}); pass lens for variable-length values`,
        { keys: n, vals: kv.vals.length },
      );
    }
    return;
  }
  validateLens(kv.lens, n, kv.vals.length);
}

/** Checks `lens` against a key count and a value count. Returns nothing; throws on mismatch. */
export function validateLens(lens: Int32Array, numKeys: number, numVals: number): void {
  if (!(lens instanceof Int32Array) || lens.length !== numKeys) {
    throw new PsError(
      PsErrorCode.LENS_LENGTH,
      `lens must be an Int32Array with one entry per key (${numKeys}), got ${describe(lens)} of length ${(lens as { length?: number })?.length}`,
    );
  }
  let sum = 0;
  for (let i = 0; i < numKeys; i++) {
    const l = lens[i]!;
    if (l < 0) {
      throw new PsError(PsErrorCode.LENS_LENGTH, `lens[${i}] is negative (${l}); lengths count values`, {
        index: i,
      });
    }
    sum += l;
  }
  if (sum !== numVals) {
    throw new PsError(PsErrorCode.LENS_SUM, `the sum of lens (${sum}) must equal vals.length (${numVals})`, {
      sum,
      vals: numVals,
    });
  }
}

/** Allocates a value array of a dtype. */
export function allocVals(dtype: ValDtype, length: number): ValArray {
  return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
}
