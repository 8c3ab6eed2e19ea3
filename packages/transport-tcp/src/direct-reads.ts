import type net from 'node:net';
import { allocBytes } from '@ps/core';
import { MAX_PIECE_BYTES, slabPiece } from './slab-piece.js';

/** Bytes of the buffer reads go to between frames (as Node's own reads: 64 KiB). */
const SCRATCH_BYTES = 64 * 1024;
/** A read this short is copied out of the scratch buffer (into a slab piece), which is then reused at once. */
const COPY_BELOW = MAX_PIECE_BYTES;

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
 * view of it; reads under 32 KiB are copied out of it at once, into a piece of a shared slab
 * (`slabPiece`: a memcpy, not an allocation per read).
 *
 * Node offers `onread` only to sockets it dials, not to accepted ones: `adoptWithDirectReads`
 * moves an accepted socket's handle into a socket made with it. Under TLS, reads stay as Node
 * makes them (chunks, copied into frames).
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
    else if (n < COPY_BELOW) sink.readChunk(copied(chunk));
    else if (!sink.readChunk(chunk)) this.scratch = allocBytes(SCRATCH_BYTES);
  }
}

/**
 * An accepted plain-TCP socket (from a server made with `pauseOnConnect`, so it has not read
 * yet) as a socket that reads through {@link DirectReads}: its handle moves into a new
 * `net.Socket` made with the `onread` option, which Node 20 offers only to sockets it makes
 * itself, and the emptied original is destroyed (which only counts it off its server). Where
 * the handle cannot be taken (`_handle`, not part of Node's documented API), the socket is
 * resumed as it is and reads as Node makes them: undefined `direct`.
 */
export function adoptWithDirectReads(
  raw: net.Socket,
  Socket: typeof net.Socket,
): {
  socket: net.Socket;
  direct: DirectReads | undefined;
} {
  const holder = raw as unknown as { _handle?: object | null };
  const handle = holder._handle;
  if (handle === null || typeof handle !== 'object' || raw.destroyed) {
    raw.resume();
    return { socket: raw, direct: undefined };
  }
  const direct = new DirectReads();
  holder._handle = null;
  raw.destroy();
  const socket = new Socket({
    handle,
    readable: true,
    writable: true,
    onread: direct.onread,
  } as net.SocketConstructorOpts);
  return { socket, direct };
}

/** `chunk`'s bytes in a slab piece of their own (the scratch buffer is read into again at once). */
function copied(chunk: Uint8Array): Uint8Array {
  const piece = slabPiece(chunk.byteLength);
  piece.set(chunk);
  return piece;
}
