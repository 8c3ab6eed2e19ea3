import type net from 'node:net';
import { allocBytes } from '@ps/core';

/** Bytes of the buffer reads go to between frames (as Node's own reads: 64 KiB). */
const SCRATCH_BYTES = 64 * 1024;
/** A read this short is copied out of the scratch buffer, which is then reused at once. */
const COPY_BELOW = 8 * 1024;

/** What {@link DirectReads} reads for: a channel's frame reader (see `TcpChannel`). */
export interface DirectReadSink {
  /** The unfilled tail of the frame being received, when at least `minBytes` are missing. */
  readTail(minBytes: number): Uint8Array | undefined;
  /** `n` bytes were read into `tail` (what `readTail` gave). */
  readFilled(tail: Uint8Array, n: number): void;
  /** A chunk was read; true when its memory may be read into again (nothing kept a view of it). */
  readChunk(chunk: Uint8Array): boolean;
}

/**
 * Reads of a dialed plain-TCP socket (Node's `onread` option of `net.connect`) that go straight
 * into the buffer of the frame being received: once a frame's length prefix announced more
 * than 64 KiB still missing, the socket reads its remaining bytes into the frame's own buffer,
 * in as few reads as the kernel allows, instead of into chunks that are then copied there. Between
 * frames, reads go to a 64 KiB scratch buffer, reused while no frame (nor a budget wait) keeps a
 * view of it; reads under 8 KiB are copied out of it at once.
 *
 * Node offers `onread` only to sockets it dials (not to accepted ones, nor under TLS), so a
 * server's channels keep the copying path; a worker's pull answers take this one.
 */
export class DirectReads {
  private scratch = allocBytes(SCRATCH_BYTES);
  private sink: DirectReadSink | undefined;
  /** Reads before the channel attached (copies). */
  private readonly early: Uint8Array[] = [];

  /** The `onread` option to give `net.connect`. */
  readonly onread: net.OnReadOpts = {
    buffer: () => this.sink?.readTail(SCRATCH_BYTES) ?? this.scratch,
    callback: (n: number, buf: Uint8Array) => {
      this.read(n, buf);
      return true;
    },
  };

  /** Hands reads to `sink` from now on (what was read before goes first). */
  attach(sink: DirectReadSink): void {
    this.sink = sink;
    for (const c of this.early.splice(0)) sink.readChunk(c);
  }

  private read(n: number, buf: Uint8Array): void {
    const sink = this.sink;
    if (buf !== this.scratch) {
      sink?.readFilled(buf, n);
      return;
    }
    const chunk = buf.subarray(0, n);
    if (sink === undefined) this.early.push(chunk.slice());
    else if (n < COPY_BELOW) sink.readChunk(chunk.slice());
    else if (!sink.readChunk(chunk)) this.scratch = allocBytes(SCRATCH_BYTES);
  }
}
