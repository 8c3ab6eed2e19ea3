import { keyWords } from '@ps/core';

/**
 * Maps feature buckets `[0, 2^bits)` to 64-bit keys spread evenly over the key space:
 * `key = bucket << (64 - bits)`. Keys keep the buckets' order, and even key ranges then give
 * each server an equal share of the buckets. Writes 32-bit words, no BigInt per element.
 * @param buckets strictly increasing bucket ids (uint32), each `< 2^bits`
 * @param bits 1 to 32
 * @returns a BigUint64Array of `buckets.length` strictly increasing keys
 */
export function bucketsToKeys(buckets: Uint32Array, bits: number, out?: BigUint64Array): BigUint64Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32)
    throw new RangeError(`bits must be 1..32, got ${bits}`);
  const keys = out ?? new BigUint64Array(buckets.length);
  const w = keyWords(keys);
  const shift = 32 - bits;
  for (let i = 0; i < buckets.length; i++) {
    w[2 * i] = 0;
    w[2 * i + 1] = shift === 0 ? buckets[i]! : (buckets[i]! << shift) >>> 0;
  }
  return keys;
}

/**
 * The key of the model's intercept (bias weight): 2^64 − 1, the last key of the key space. No
 * feature bucket maps to it (a bucket's key has its low `64 − bits` bits zero, `bits <= 32`),
 * and as the largest key it comes last in every sorted key list. Servers store it like every
 * other weight but leave it out of the L1/L2 penalty (see `slrHandler`).
 */
export const BIAS_KEY = 0xffff_ffff_ffff_ffffn;

/**
 * The fewest key bits that give each of `features` buckets its own key: `ceil(log2(features))`,
 * at least 1 (2^20 buckets: 20; a 13-feature LIBSVM file: 4).
 */
export function keyBitsFor(features: number): number {
  if (!Number.isSafeInteger(features) || features < 1 || features > 2 ** 32)
    throw new RangeError(`features must be an integer in [1, 2^32], got ${features}`);
  return Math.max(1, Math.ceil(Math.log2(features)));
}

/** The inverse of {@link bucketsToKeys} for one key (for tests and tools; not a hot path). */
export function keyToBucket(key: bigint, bits: number): number {
  return Number(key >> BigInt(64 - bits));
}
