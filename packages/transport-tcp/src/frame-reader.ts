import {
  type BudgetClaim,
  INBOUND_BUDGET_EXEMPT_BYTES,
  type InboundBudget,
  largeBufferPool,
  PsError,
  PsErrorCode,
} from '@ps/core';

/**
 * How a {@link FrameReader} draws on the node's inbound budget: `pause` runs when a frame must
 * wait for budget (stop reading the socket), `granted` when it may go on (feed the reader again:
 * `push` with an empty chunk replays what arrived meanwhile, then resume the socket).
 */
export interface FrameReaderBudget {
  budget: InboundBudget;
  pause(): void;
  granted(): void;
}

/** An empty chunk: `push(EMPTY_CHUNK, …)` replays the bytes kept while a frame waited for budget. */
export const EMPTY_CHUNK = new Uint8Array(0);

/**
 * Splits a TCP byte stream into frames: each frame is a u32 little-endian length followed by
 * that many bytes. A frame that lies within one received chunk is handed out as a view (no
 * copy); a frame that spans chunks is gathered into one buffer (from `largeBufferPool` when it is
 * large) as its bytes arrive. With a
 * budget ({@link useBudget}), a frame above `INBOUND_BUDGET_EXEMPT_BYTES` claims its length
 * from the node's `InboundBudget` before its buffer is allocated, and gives it back once
 * complete; while the claim waits, chunks are kept as they are and the owner is told to pause.
 */
export class FrameReader {
  private header = new Uint8Array(4);
  private headerFill = 0;
  private frame: Uint8Array | undefined;
  private frameFill = 0;
  private claim: BudgetClaim | undefined;
  /** A frame waiting for its budget claim: its length, and the bytes received behind its header. */
  private waiting: { len: number; claim: BudgetClaim; chunks: Uint8Array[]; bytes: number } | undefined;
  private budget: FrameReaderBudget | undefined;
  /**
   * True once a chunk given to `push` was handed out (a frame as a view of it) or kept (while a
   * frame waits for budget) since the owner last cleared it: the owner may reuse a chunk's
   * memory for the next read only while this stays false.
   */
  lent = false;

  /** @param maxFrameBytes largest frame accepted; may be raised later (after a handshake). */
  constructor(public maxFrameBytes: number) {}

  /** Draws frames above the exempt size from `budget` from now on (after a handshake). */
  useBudget(budget: FrameReaderBudget): void {
    this.budget = budget;
  }

  /** Bytes of a frame received so far and not yet complete (0 between frames). */
  get partialBytes(): number {
    if (this.waiting) return this.waiting.bytes;
    return this.frame ? this.frameFill : this.headerFill;
  }

  /** True while a frame waits for budget (its owner should not read the socket). */
  get paused(): boolean {
    return this.waiting !== undefined && !this.waiting.claim.held;
  }

  /** Gives back the budget held or waited for (the connection closed). */
  dispose(): void {
    this.claim?.release();
    this.claim = undefined;
    this.waiting?.claim.release();
    this.waiting = undefined;
    this.frame = undefined;
  }

  /**
   * Feeds one chunk; calls `onFrame` for every frame it completes.
   * @throws PsError `PS_ERR_FRAME_TOO_LARGE` when a length prefix exceeds the maximum, or
   *   `PS_ERR_INBOUND_BUDGET` when it exceeds the whole inbound budget (the stream cannot be
   *   resynchronised after that: close the connection).
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    const w = this.waiting;
    if (w) {
      if (chunk.byteLength > 0) {
        w.chunks.push(chunk);
        w.bytes += chunk.byteLength;
        this.lent = true;
      }
      if (!w.claim.held) return;
      // Granted: start the frame, then replay what arrived while it waited.
      this.waiting = undefined;
      this.start(w.len, w.claim, onFrame);
      // A later frame that must wait again takes the rest of the chunks into its own wait.
      for (const c of w.chunks) this.push(c, onFrame);
      return;
    }
    let off = 0;
    const n = chunk.byteLength;
    while (off < n) {
      if (this.frame === undefined) {
        // Fast path: a whole frame inside this chunk, its header included.
        if (this.headerFill === 0 && n - off >= 4) {
          const len = readU32(chunk, off);
          this.check(len);
          if (n - off - 4 >= len) {
            this.lent = true;
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
        const b = this.budget;
        if (b && len > INBOUND_BUDGET_EXEMPT_BYTES) {
          const claim = b.budget.claim(len, () => b.granted());
          if (!claim.held) {
            const rest = chunk.subarray(off);
            this.waiting = { len, claim, chunks: rest.byteLength > 0 ? [rest] : [], bytes: rest.byteLength };
            if (rest.byteLength > 0) this.lent = true;
            b.pause();
            return;
          }
          this.start(len, claim, onFrame);
        } else this.start(len, undefined, onFrame);
        continue;
      }
      const take = Math.min(this.frame.byteLength - this.frameFill, n - off);
      this.frame.set(chunk.subarray(off, off + take), this.frameFill);
      this.frameFill += take;
      off += take;
      if (this.frameFill === this.frame.byteLength) this.finish(onFrame);
    }
  }

  /**
   * The unfilled tail of the frame being gathered, when at least `minBytes` of it are missing:
   * where a socket may read the frame's next bytes itself (then call {@link filled}), instead of
   * reading into a chunk that `push` copies. Undefined between frames or while one waits.
   */
  tail(minBytes: number): Uint8Array | undefined {
    const f = this.frame;
    if (f === undefined || this.waiting !== undefined || f.byteLength - this.frameFill < minBytes)
      return undefined;
    return f.subarray(this.frameFill);
  }

  /**
   * Records that `n` bytes were read into `tail` (what {@link FrameReader.tail} returned); completes the frame
   * when they were its last. False when `tail` is not this reader's tail any more (the
   * connection closed meanwhile): nothing is recorded.
   */
  filled(tail: Uint8Array, n: number, onFrame: (frame: Uint8Array) => void): boolean {
    const f = this.frame;
    if (f === undefined || tail.buffer !== f.buffer || tail.byteOffset !== f.byteOffset + this.frameFill)
      return false;
    if (n > tail.byteLength) return false;
    this.frameFill += n;
    if (this.frameFill === f.byteLength) this.finish(onFrame);
    return true;
  }

  /**
   * Takes the buffer of a frame of `len` bytes (filled as chunks arrive: not zeroed): from
   * `largeBufferPool` (64 KiB and up; a fresh buffer below), so that a frame whose consumer gives
   * it back (see `ownedFrameOf` in core) costs no allocation the next time. The reader never
   * releases a frame itself: it hands it out whole, or drops it unfinished on close (a socket may
   * still have been reading into it).
   */
  private start(len: number, claim: BudgetClaim | undefined, onFrame: (frame: Uint8Array) => void): void {
    this.frame = largeBufferPool.take(len);
    this.frameFill = 0;
    this.claim = claim;
    if (len === 0) this.finish(onFrame);
  }

  private finish(onFrame: (frame: Uint8Array) => void): void {
    const f = this.frame!;
    this.frame = undefined;
    this.claim?.release();
    this.claim = undefined;
    onFrame(f);
  }

  private check(len: number): void {
    if (len > this.maxFrameBytes) {
      throw new PsError(
        PsErrorCode.FRAME_TOO_LARGE,
        `peer announced a frame of ${len} bytes, above maxFrameBytes (${this.maxFrameBytes}); closing the connection`,
        { bytes: len, max: this.maxFrameBytes },
      );
    }
    if (this.budget && len > this.budget.budget.maxBytes) {
      // Throws PS_ERR_INBOUND_BUDGET: such a frame can never be gathered.
      this.budget.budget.claim(len, () => undefined);
    }
  }
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
