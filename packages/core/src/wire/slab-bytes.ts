import { allocBytes } from './alloc-bytes.js';

/** Bytes of one slab. */
const SLAB_BYTES = 256 * 1024;
/** Largest piece cut from a slab; larger requests get their own buffer. */
const MAX_PIECE = 32 * 1024;

let slab: ArrayBuffer | undefined;
let used = 0;

/**
 * A fresh, 8-aligned byte array of `n` bytes, NOT zeroed, for a buffer that is overwritten in full
 * at once (a segment copied to an aligned address). Pieces up to 32 KiB are cut from a shared
 * 256 KiB slab, so that a copy costs a memcpy rather than an allocation: allocating a small
 * ArrayBuffer costs several microseconds on Node 20, more than copying 8 KB. A slab is never
 * reused: it is freed by the collector once no piece of it is referenced (as Node's own Buffer
 * pool), so a piece kept for long keeps its 256 KiB alive. Larger pieces: {@link allocBytes}.
 */
export function slabBytes(n: number): Uint8Array {
  if (n > MAX_PIECE) return allocBytes(n);
  if (slab === undefined || used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const piece = new Uint8Array(slab, used, n);
  used += (n + 7) & ~7;
  return piece;
}
