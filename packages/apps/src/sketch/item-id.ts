import murmurhash from 'murmurhash';

/**
 * The uint32 id a {@link CountMinSketch} hashes for a string item: MurmurHash3 (32-bit, seed 0)
 * of its UTF-8 bytes. Distinct strings may share an id (about n²/2^33 pairs among n strings);
 * the sketch and its exact reference both count ids, so a shared id is one item to both.
 */
export function itemId(item: string): number {
  return murmurhash.v3(Buffer.from(item, 'utf8')) >>> 0;
}
