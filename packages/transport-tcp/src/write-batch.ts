import type net from 'node:net';
import type { PsError } from '@ps/core';
import { coalesceFrames } from './coalesce-frames.js';

/** A frame handed to a `WriteBatch`: its parts, their length, and how to settle its send. */
export interface BatchedFrame {
  parts: readonly Uint8Array[];
  len: number;
  resolve: () => void;
  reject: (e: PsError) => void;
}

/** Frames held up to this many bytes (or the socket's high-water mark, if larger) wait for the tick. */
export const BATCH_BYTES = 64 * 1024;

/**
 * The frames a channel sends within one tick, written together. The first frame of a tick on an
 * idle socket (nothing of an earlier write still buffered) is written at once; every frame sent
 * after it in the same tick joins one write on `process.nextTick` (laid out by
 * {@link coalesceFrames}: small frames copied into one buffer, large segments passed as views).
 * A socket that still holds bytes batches from the tick's first frame on.
 *
 * Writing the first frame at once breaks the convoy of batches: with a whole tick's frames in
 * one write, a worker with 8 requests in flight and its server passed the 8 back and forth as one
 * block, each end idle while the other worked through it (both 60% idle, push of 1,000 keys x8);
 * with the first frame out at once, the peer starts on it while this end handles the rest
 * (docs/benchmarks.md, "TCP: what each change bought", item 19). A request loop with several
 * requests in flight, or a server answering the requests of one read, makes two system calls
 * a tick (the first frame, then the rest), not one per frame. Once the frames held reach {@link BATCH_BYTES} they
 * are written at once, so a burst of sends in one tick meets the socket's backpressure after at
 * most that many bytes held. Each frame's send settles when the write holding its last byte
 * completes (or fails).
 */
export class WriteBatch {
  private frames: BatchedFrame[] = [];
  private bytes = 0;
  private scheduled = false;

  /**
   * @param socket where the frames go.
   * @param failed the error a frame's send rejects with when its write fails.
   */
  constructor(
    private readonly socket: net.Socket,
    private readonly failed: (err: Error) => PsError,
  ) {}

  /** Bytes of frames held for the next write (length prefixes included). */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Writes `frame` at once when it is the tick's first and the socket holds nothing unwritten,
   * else holds it for the tick's write (written at once past {@link BATCH_BYTES}).
   */
  add(frame: BatchedFrame): void {
    this.frames.push(frame);
    this.bytes += 4 + frame.len;
    if (this.bytes >= Math.max(BATCH_BYTES, this.socket.writableHighWaterMark)) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    // Not scheduled: nothing is held but this frame, the tick's first. It goes now on an idle
    // socket; the frames after it in the tick wait for the flush on the next tick.
    this.scheduled = true;
    process.nextTick(this.tick);
    if (this.socket.writableLength === 0) this.flush();
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Writes the frames held now (nothing when none are). */
  flush(): void {
    const frames = this.frames;
    if (frames.length === 0) return;
    this.frames = [];
    this.bytes = 0;
    const { socket } = this;
    const done = (err?: Error | null) => {
      if (err) {
        const e = this.failed(err);
        for (const f of frames) f.reject(e);
      } else for (const f of frames) f.resolve();
    };
    if (socket.destroyed) {
      done(new Error('the socket was destroyed'));
      return;
    }
    const chunks = coalesceFrames(frames);
    if (chunks.length === 1) {
      socket.write(chunks[0]!, done);
      return;
    }
    // Several chunks (large segments among them): corked, they leave in one writev.
    socket.cork();
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      const buf = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      socket.write(buf, i === chunks.length - 1 ? done : undefined);
    }
    socket.uncork();
  }
}
