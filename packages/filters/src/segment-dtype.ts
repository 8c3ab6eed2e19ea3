import { PsError, PsErrorCode, type Segment } from '@ps/core';

/**
 * Segment dtype codes (internal to this package), in the frame codec's order: 0 Uint8Array,
 * 1 Int32Array, 2 Uint32Array, 3 Float32Array, 4 Float64Array, 5 BigUint64Array.
 */
export const SEGMENT_DTYPES = [
  Uint8Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigUint64Array,
] as const;

/** The dtype code of a segment. @throws PsError `PS_ERR_DTYPE` for a type that cannot travel. */
export function segmentDtypeCode(seg: Segment): number {
  const i = SEGMENT_DTYPES.indexOf(seg.constructor as (typeof SEGMENT_DTYPES)[number]);
  if (i < 0) throw new PsError(PsErrorCode.DTYPE, `cannot send a segment of type ${seg.constructor.name}`);
  return i;
}

/** The bytes of a segment, as a view (no copy). */
export function segmentAsBytes(seg: Segment): Uint8Array {
  return seg instanceof Uint8Array ? seg : new Uint8Array(seg.buffer, seg.byteOffset, seg.byteLength);
}

/**
 * A segment of dtype `code` over `bytes` (a view when `bytes` is aligned for the dtype, a copy
 * otherwise). The caller has checked that the code is valid and the length a whole number of
 * elements.
 */
export function segmentFromBytes(code: number, bytes: Uint8Array): Segment {
  const ctor = SEGMENT_DTYPES[code]!;
  if (ctor === Uint8Array) return bytes;
  const n = bytes.byteLength / ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0)
    return new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new ctor(copy.buffer, 0, n);
}
