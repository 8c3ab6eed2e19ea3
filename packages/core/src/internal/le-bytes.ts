/**
 * Little-endian integers read from and written to byte arrays in place, for the frame header and
 * the binary data meta: a `DataView` made per frame cost more than the reads it served (an
 * allocation, on Node 20 not removed by the compiler), and these run on any byte array at any
 * offset, aligned or not.
 */

/** The u32 at `o`. */
export function readU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** The u16 at `o`. */
export function readU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

/** Writes `v` (an integer in [0, 2^32)) at `o`. */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}
