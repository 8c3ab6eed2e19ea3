import { slabPiece } from './slab-piece.js';

/** A part at least this long goes to the socket as it is (a view, not copied). */
export const COPY_BELOW_BYTES = 16 * 1024;

/**
 * Lays out frames for one socket write: each frame is its u32 little-endian length followed by
 * its parts, all frames back to back. Length prefixes and parts shorter than `copyBelow` bytes
 * are copied into shared buffers (one per run of short pieces); a part of `copyBelow` bytes or
 * more is returned as it is (the same view), so large segments are never copied. Concatenated,
 * the returned chunks are exactly the frames' bytes in order; a batch of small frames is one
 * chunk, which the socket writes with one `write` (no `writev` of many small pieces).
 *
 * @param frames each frame's parts and their total length in bytes (at most `0xffffffff`).
 * @param copyBelow parts shorter than this many bytes are copied (default 16 KiB).
 * @returns the chunks to write, in order; empty for no frames.
 */
export function coalesceFrames(
  frames: readonly { parts: readonly Uint8Array[]; len: number }[],
  copyBelow = COPY_BELOW_BYTES,
): Uint8Array[] {
  // First pass: the size of each run of copied bytes between two parts that go as they are.
  const runs: number[] = [];
  let run = 0;
  for (const f of frames) {
    run += 4;
    for (const p of f.parts) {
      if (p.byteLength >= copyBelow) {
        runs.push(run);
        run = 0;
      } else run += p.byteLength;
    }
  }
  runs.push(run);
  // Second pass: copy the short pieces into their run's buffer, pass the long ones through.
  const out: Uint8Array[] = [];
  let r = 0;
  let buf = slabPiece(runs[0]!);
  let at = 0;
  for (const f of frames) {
    buf.writeUInt32LE(f.len, at);
    at += 4;
    for (const p of f.parts) {
      if (p.byteLength >= copyBelow) {
        if (at > 0) out.push(buf);
        out.push(p);
        buf = slabPiece(runs[++r]!);
        at = 0;
      } else {
        buf.set(p, at);
        at += p.byteLength;
      }
    }
  }
  if (at > 0) out.push(buf);
  return out;
}
