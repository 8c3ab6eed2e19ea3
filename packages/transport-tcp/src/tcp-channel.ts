import type net from 'node:net';
import { type FrameChannel, type FrameChannelLimits, isTlsAuthError, PsError, PsErrorCode } from '@ps/core';
import { Observable, Subject } from 'rxjs';
import type { DirectReadSink, DirectReads } from './direct-reads.js';
import { EMPTY_CHUNK, FrameReader } from './frame-reader.js';
import { type BatchedFrame as QueuedFrame, WriteBatch } from './write-batch.js';

/** A TLS record holding a fatal handshake_failure alert: what a plain listener answers a TLS dialer. */
const TLS_HANDSHAKE_FAILURE_ALERT = Uint8Array.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);

/** True when a connection's first bytes are a TLS record (a handshake or an alert). */
export function looksLikeTls(chunk: Uint8Array): boolean {
  return chunk.length >= 3 && (chunk[0] === 0x16 || chunk[0] === 0x15) && chunk[1] === 0x03 && chunk[2]! <= 4;
}

/** How a {@link TcpChannel} was opened. */
export interface TcpChannelOptions {
  /** True on a dialed socket (the medium's own checks name the side in their messages). */
  outgoing: boolean;
  /** The socket speaks TLS (then a TLS record is not an error, and TLS errors are `PS_ERR_AUTH`). */
  tls: boolean;
  /** The limits the message layer gave for this channel. */
  limits: FrameChannelLimits;
  /** The medium's own largest frame, in bytes (sends above it are refused). */
  mediumMaxFrameBytes: number;
  /** Under a TLS socket, the TCP socket it wraps (its errors are heard, the TLS socket reports them). */
  raw?: net.Socket;
  /** The socket reads through `onread` (a dialed plain socket): it reads for this channel. */
  direct?: DirectReads;
}

/**
 * One TCP (or TLS) connection as a `FrameChannel`: frames are a u32 little-endian length
 * and the frame's bytes. Reads go through a {@link FrameReader} holding the channel's limit and
 * the node's inbound budget (the socket is paused while a large frame waits for budget). A
 * tick's first frame on an idle socket leaves at once and the frames after it in one write
 * (`WriteBatch`: small frames copied together, large segments as views); they queue behind the
 * socket's high-water mark; a send resolves once the kernel took the frame's last byte.
 */
export class TcpChannel implements FrameChannel, DirectReadSink {
  readonly source: string;
  /** The far end's address and port, for messages (`127.0.0.1:50312`). */
  readonly remote: string;
  readonly frames$: Observable<Uint8Array>;
  private readonly subject = new Subject<Uint8Array>();
  /** Frames (and the end) that came before anyone subscribed; undefined once someone did. */
  private early: { frames: Uint8Array[]; end: ((s: Subject<Uint8Array>) => void) | undefined } | undefined = {
    frames: [],
    end: undefined,
  };
  private readonly reader: FrameReader;
  private readonly queue: QueuedFrame[] = [];
  /** Frames sent in this tick after its first, written together on the next (see WriteBatch). */
  private readonly batch: WriteBatch;
  private queued = 0;
  private ended = false;
  private failure: PsError | undefined;
  private seen = false;
  /** Set by close(): later sends reject `PS_ERR_CLOSED`. */
  private closing: PsError | undefined;
  private readonly done: Promise<void>;

  constructor(
    readonly socket: net.Socket,
    private readonly opts: TcpChannelOptions,
  ) {
    this.source = socket.remoteAddress ?? 'unknown';
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.reader = new FrameReader(opts.limits.maxFrameBytes);
    this.batch = new WriteBatch(
      socket,
      (err) =>
        this.closing ??
        this.failure ??
        new PsError(PsErrorCode.PEER_UNREACHABLE, `write to ${this.remote} failed: ${err.message}`),
    );
    this.reader.useBudget({
      budget: opts.limits.budget,
      pause: () => socket.pause(),
      granted: () =>
        setImmediate(() => {
          if (this.ended || socket.destroyed) return;
          this.feed(EMPTY_CHUNK);
          if (!this.reader.paused) socket.resume();
        }),
    });
    // The first subscriber also gets what arrived before it; later ones only what follows.
    this.frames$ = new Observable<Uint8Array>((sub) => {
      const s = this.subject.subscribe(sub);
      const early = this.early;
      if (early) {
        this.early = undefined;
        for (const f of early.frames) sub.next(f);
        early.end?.(this.subject);
      }
      return s;
    });
    socket.setNoDelay(true);
    if (opts.direct) opts.direct.attach(this);
    else socket.on('data', (chunk: Uint8Array) => this.feed(chunk));
    // The TLS socket reports what matters; a reset of the TCP socket under it must not go unheard.
    opts.raw?.on('error', () => undefined);
    socket.on('error', (err: Error & { code?: string }) => {
      if (this.failure) return;
      this.failure =
        opts.tls && !opts.outgoing && !this.seen && err.code !== 'ECONNRESET'
          ? new PsError(
              PsErrorCode.AUTH,
              `TLS handshake with ${this.remote} failed (${err.message}); a plain or untrusted peer? closed`,
              undefined,
              { cause: err },
            )
          : opts.tls && isTlsAuthError(err)
            ? new PsError(
                PsErrorCode.AUTH,
                `TLS with ${this.remote} failed (an untrusted certificate, or a peer without TLS): ${err.message}`,
                undefined,
                { cause: err },
              )
            : new PsError(
                PsErrorCode.PEER_UNREACHABLE,
                `connection to ${this.remote} failed: ${err.message}`,
                undefined,
                {
                  cause: err,
                },
              );
    });
    this.done = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.onClose());
  }

  get queuedBytes(): number {
    return this.queued + this.batch.heldBytes + (this.socket.destroyed ? 0 : this.socket.writableLength);
  }

  /** Resolves once the socket closed. */
  closed(): Promise<void> {
    return this.done;
  }

  setMaxFrameBytes(bytes: number): void {
    this.reader.maxFrameBytes = bytes;
  }

  private feed(chunk: Uint8Array): void {
    if (this.ended || this.failure) return;
    try {
      if (!this.seen && chunk.byteLength > 0) {
        this.seen = true;
        if (!this.opts.tls && looksLikeTls(chunk)) {
          // A TLS dialer gets a fatal alert, so it fails at once instead of retrying.
          if (!this.opts.outgoing && chunk[0] === 0x16) this.socket.end(TLS_HANDSHAKE_FAILURE_ALERT);
          setTimeout(() => this.socket.destroy(), 1000).unref();
          this.fail(
            new PsError(
              PsErrorCode.HANDSHAKE,
              'the peer speaks TLS and this transport does not; give every node the same tls options',
            ),
          );
          return;
        }
      }
      this.reader.push(chunk, this.deliver);
    } catch (err) {
      this.fail(err instanceof PsError ? err : new PsError(PsErrorCode.FRAME_MALFORMED, String(err)));
      this.socket.destroy();
    }
  }

  private readonly deliver = (frame: Uint8Array): void => {
    if (this.ended || this.failure) return;
    if (this.early) this.early.frames.push(frame);
    else this.subject.next(frame);
  };

  /** See {@link DirectReadSink}: the tail of the frame being received, for the socket to read into. */
  readTail(minBytes: number): Uint8Array | undefined {
    return this.ended || this.failure ? undefined : this.reader.tail(minBytes);
  }

  /** See {@link DirectReadSink}: `n` bytes were read into the frame's tail. */
  readFilled(tail: Uint8Array, n: number): void {
    if (this.ended || this.failure) return;
    this.reader.filled(tail, n, this.deliver);
  }

  /** See {@link DirectReadSink}: a chunk read into a buffer of the socket's. */
  readChunk(chunk: Uint8Array): boolean {
    this.reader.lent = false;
    this.feed(chunk);
    return !this.reader.lent;
  }

  /** Records a failure the medium found itself (frames$ errors with it once the socket closed). */
  private fail(e: PsError): void {
    if (this.failure) return;
    this.failure = e;
    // Report at once: the layer may act before the socket is gone.
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.reader.dispose();
    const failure = this.failure;
    const end = (s: Subject<Uint8Array>) => (failure ? s.error(failure) : s.complete());
    if (this.early) this.early.end = end;
    else end(this.subject);
  }

  private onClose(): void {
    const partial = this.reader.partialBytes;
    if (!this.ended && !this.failure && partial > 0 && !this.closing) {
      this.failure = new PsError(
        PsErrorCode.FRAME_TRUNCATED,
        `connection closed ${partial} bytes into a frame; the partial frame was dropped`,
      );
    }
    this.finish();
    const err =
      this.closing ??
      this.failure ??
      new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `connection to ${this.remote} closed before a queued frame was written`,
      );
    this.queued = 0;
    for (const q of this.queue.splice(0)) q.reject(err);
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.closing) return Promise.reject(this.closing);
    const { socket } = this;
    if (this.ended || socket.destroyed || !socket.writable) {
      return Promise.reject(new PsError(PsErrorCode.CLOSED, `connection to ${this.remote} is closed`));
    }
    let len = 0;
    for (const p of parts) len += p.byteLength;
    if (len > this.opts.mediumMaxFrameBytes || len > 0xffff_ffff) {
      return Promise.reject(
        new PsError(
          PsErrorCode.FRAME_TOO_LARGE,
          `frame of ${len} bytes exceeds the TCP medium's maxFrameBytes (${this.opts.mediumMaxFrameBytes}); nothing sent`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const item: QueuedFrame = { parts, len, resolve, reject };
      if (this.queue.length > 0 || socket.writableNeedDrain) {
        this.queue.push(item);
        this.queued += len;
        if (this.queue.length === 1) socket.once('drain', () => this.flush());
        return;
      }
      this.batch.add(item);
    });
  }

  private flush(): void {
    const { socket } = this;
    while (this.queue.length > 0 && !socket.writableNeedDrain && !socket.destroyed) {
      const item = this.queue.shift()!;
      this.queued -= item.len;
      this.batch.add(item);
    }
    if (this.queue.length > 0 && !socket.destroyed) socket.once('drain', () => this.flush());
  }

  close(reason?: PsError): void {
    if (reason) {
      if (!this.closing) this.closing = reason;
      // A reset frees both ends' buffers at once (a FIN would wait behind what the peer does not read).
      // Not once end() began: a reset during a shutdown never closes the handle (no 'close').
      if (this.socket.writableEnded) {
        this.socket.destroy();
        return;
      }
      try {
        this.socket.resetAndDestroy();
      } catch {
        this.socket.destroy(); // a TLS socket cannot be reset (nor its TCP socket, which TLS holds)
      }
      return;
    }
    if (this.closing) return;
    this.closing = new PsError(PsErrorCode.CLOSED, `connection to ${this.remote} was closed by this node`);
    if (this.socket.destroyed) return;
    // What is queued goes first; a peer that does not close its end is cut off after a second.
    const end = () => {
      this.batch.flush(); // what this tick sent goes before the FIN
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    };
    if (this.queue.length === 0) end();
    else {
      const last = this.queue[this.queue.length - 1]!;
      const { resolve, reject } = last;
      last.resolve = () => {
        resolve();
        end();
      };
      last.reject = (e) => {
        reject(e);
        end();
      };
    }
  }
}
