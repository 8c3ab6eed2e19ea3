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

/** The inverse of {@link bucketsToKeys} for one key (for tests and tools; not a hot path). */
export function keyToBucket(key: bigint, bits: number): number {
  return Number(key >> BigInt(64 - bits));
}
