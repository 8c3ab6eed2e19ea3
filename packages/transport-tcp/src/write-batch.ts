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
 * The frames a channel sends within one tick, written together: the first frame schedules a
 * flush on `process.nextTick`, and every frame sent before it runs joins the same write (laid
 * out by {@link coalesceFrames}: small frames copied into one buffer, large segments passed as
 * views). A request loop with several requests in flight, or a server answering the requests of
 * one read, so makes one system call where it made one per frame, and a lone small frame is one
 * `write` instead of a corked `writev` of its prefix and parts. Once the frames held reach
 * {@link BATCH_BYTES} they are written at once, so a burst of sends in one tick meets the socket's
 * backpressure after at most that many bytes held.
 * Each frame's send settles when the write holding its last byte completes (or fails).
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

  /** Holds `frame` for this tick's write (writes at once past {@link BATCH_BYTES}). */
  add(frame: BatchedFrame): void {
    this.frames.push(frame);
    this.bytes += 4 + frame.len;
    if (this.bytes >= Math.max(BATCH_BYTES, this.socket.writableHighWaterMark)) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.tick);
    }
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
