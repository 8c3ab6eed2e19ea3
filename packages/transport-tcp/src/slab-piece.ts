/** Bytes of one slab. */
const SLAB_BYTES = 256 * 1024;
/** Largest piece cut from a slab; larger requests get a buffer of their own. */
export const MAX_PIECE_BYTES = 32 * 1024;

let slab: Buffer | undefined;
let used = 0;

/**
 * A fresh `Buffer` of `n` bytes at an 8-aligned address, NOT zeroed, for bytes written once and
 * then only read: the length prefixes and small parts of a batch of frames being sent, a short
 * read copied out of a socket's read buffer. Pieces up to {@link MAX_PIECE_BYTES} are cut from a
 * shared 256 KiB slab, so that such a copy costs a memcpy rather than an allocation (Node's own
 * pool serves only pieces under 4 KiB, and a fresh ArrayBuffer costs microseconds and collector
 * work). A slab is never written again once a piece of it is handed out: the collector frees it
 * when no piece is referenced, so no later piece aliases an earlier one (as Node's Buffer pool; a
 * piece kept for long keeps its slab alive).
 */
export function slabPiece(n: number): Buffer {
  if (n > MAX_PIECE_BYTES) return Buffer.allocUnsafeSlow(n);
  if (slab === undefined || used + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const piece = slab.subarray(used, used + n);
  used += (n + 7) & ~7;
  return piece;
}
