import { allocBytes, PsError, PsErrorCode } from '@ps/core';

/**
 * Splits a TCP byte stream into frames: each frame is a u32 little-endian length followed by
 * that many bytes. A frame that lies within one received chunk is handed out as a view (no
 * copy); a frame that spans chunks is gathered into one fresh buffer as its bytes arrive.
 */
export class FrameReader {
  private header = new Uint8Array(4);
  private headerFill = 0;
  private frame: Uint8Array | undefined;
  private frameFill = 0;

  /** @param maxFrameBytes largest frame accepted; may be raised later (after a handshake). */
  constructor(public maxFrameBytes: number) {}

  /** Bytes of a frame received so far and not yet complete (0 between frames). */
  get partialBytes(): number {
    return this.frame ? this.frameFill : this.headerFill;
  }

  /**
   * Feeds one chunk; calls `onFrame` for every frame it completes.
   * @throws PsError `PS_ERR_FRAME_TOO_LARGE` when a length prefix exceeds the maximum (the
   *   stream cannot be resynchronised after that: close the connection).
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let off = 0;
    const n = chunk.byteLength;
    while (off < n) {
      if (this.frame === undefined) {
        // Fast path: a whole frame inside this chunk, its header included.
        if (this.headerFill === 0 && n - off >= 4) {
          const len = readU32(chunk, off);
          this.check(len);
          if (n - off - 4 >= len) {
            onFrame(chunk.subarray(off + 4, off + 4 + len));
            off += 4 + len;
            continue;
          }
        }
        const take = Math.min(4 - this.headerFill, n - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFill);
        this.headerFill += take;
        off += take;
        if (this.headerFill < 4) return;
        const len = readU32(this.header, 0);
        this.check(len);
        this.headerFill = 0;
        // Filled byte by byte as chunks arrive: no need to zero it first.
        this.frame = allocBytes(len);
        this.frameFill = 0;
        if (len === 0) {
          const f = this.frame;
          this.frame = undefined;
          onFrame(f);
        }
        continue;
      }
      const take = Math.min(this.frame.byteLength - this.frameFill, n - off);
      this.frame.set(chunk.subarray(off, off + take), this.frameFill);
      this.frameFill += take;
      off += take;
      if (this.frameFill === this.frame.byteLength) {
        const f = this.frame;
        this.frame = undefined;
        onFrame(f);
      }
    }
  }

  private check(len: number): void {
    if (len > this.maxFrameBytes) {
      throw new PsError(
        PsErrorCode.FRAME_TOO_LARGE,
        `peer announced a frame of ${len} bytes, above maxFrameBytes (${this.maxFrameBytes}); closing the connection`,
        { bytes: len, max: this.maxFrameBytes },
      );
    }
  }
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
