import type { MessagePort } from 'node:worker_threads';
import { type FrameChannel, frameLength, PsError, PsErrorCode } from '@ps/core';
import { Observable, Subject } from 'rxjs';
import type { OnLink } from './thread-protocol.js';

interface PendingSend {
  parts: readonly Uint8Array[];
  bytes: number;
  resolve: () => void;
  reject: (err: PsError) => void;
}

/** What a {@link ThreadChannel} gets from its transport. */
export interface ThreadChannelOptions {
  /** Largest frame accepted until raised, in bytes. */
  maxFrameBytes: number;
  /** The medium's own limit on what this end sends, in bytes. */
  mediumMaxBytes: number;
  /** Bytes posted and not yet taken by the receiving thread before sends wait. */
  maxBytesInFlight: number;
  /** Runs once, when this end closes or fails. */
  onClosed: (ch: ThreadChannel) => void;
}

/** Copies a frame's parts into one new buffer (the one copy a frame takes between threads). */
function gather(parts: readonly Uint8Array[], bytes: number): ArrayBuffer {
  const buf = new ArrayBuffer(bytes);
  const out = new Uint8Array(buf);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return buf;
}

function closedError(): PsError {
  return new PsError(PsErrorCode.CLOSED, 'the thread channel is closed; dial a new one');
}

/**
 * One end of a channel between two threads: a port of the `MessageChannel` the hub made. A
 * frame's parts are copied once into a new `ArrayBuffer`, which is transferred (not cloned);
 * the receiver emits it as one 8-aligned `Uint8Array` and acknowledges its bytes once per turn
 * of its event loop after emitting, so a sender has at most `maxBytesInFlight` bytes posted and
 * not yet read (a lone larger frame still goes) and waits, in order, past that.
 */
export class ThreadChannel implements FrameChannel {
  readonly source = 'threads';
  readonly frames$: Observable<Uint8Array>;
  private readonly subject = new Subject<Uint8Array>();
  private maxFrameBytes: number;
  /** Frames received before `frames$` had a subscriber. */
  private inbox: ArrayBuffer[] = [];
  private reading = false;
  /** Set when the other end ended (after the inbox): cleanly (`null`) or with an error. */
  private ending: PsError | null | undefined;
  private ended = false;
  private closed = false;
  /** The reason this end was closed with, which later sends reject with too. */
  private reason: PsError | undefined;
  private readonly queue: PendingSend[] = [];
  private queued = 0;
  private inFlight = 0;
  private ackOwed = 0;
  private ackScheduled = false;

  constructor(
    private readonly port: MessagePort,
    private readonly opts: ThreadChannelOptions,
  ) {
    this.maxFrameBytes = opts.maxFrameBytes;
    this.frames$ = new Observable<Uint8Array>((subscriber) => {
      const sub = this.subject.subscribe(subscriber);
      if (!this.reading) {
        this.reading = true;
        queueMicrotask(() => this.drainInbox());
      }
      return sub;
    });
    port.on('message', (msg: OnLink) => this.onMessage(msg));
    port.on('close', () =>
      this.peerEnded(
        new PsError(PsErrorCode.PEER_UNREACHABLE, 'the thread channel closed (did its thread exit?)'),
      ),
    );
  }

  /**
   * Bytes waiting to be posted (behind a full window): a thread that stops reading makes this
   * grow, which the message layer's slow-peer limit watches.
   */
  get queuedBytes(): number {
    return this.queued;
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(this.reason ?? closedError());
    const bytes = frameLength(parts);
    if (bytes > this.opts.mediumMaxBytes) {
      return Promise.reject(
        new PsError(
          PsErrorCode.FRAME_TOO_LARGE,
          `frame of ${bytes} bytes exceeds the thread transport's maxFrameBytes (${this.opts.mediumMaxBytes}); nothing was sent`,
          { bytes, max: this.opts.mediumMaxBytes },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ parts, bytes, resolve, reject });
      this.queued += bytes;
      this.pump(false);
    });
  }

  setMaxFrameBytes(bytes: number): void {
    this.maxFrameBytes = bytes;
  }

  close(reason?: PsError): void {
    if (this.closed) {
      this.shut(null);
      return;
    }
    if (reason) {
      this.reason = reason;
      this.rejectQueue(reason);
      this.port.postMessage({ t: 'fail', ...reason.toWire() } satisfies OnLink);
    } else {
      this.pump(true);
      this.port.postMessage({ t: 'end' } satisfies OnLink);
    }
    this.shut(null);
  }

  /** Posts waiting frames while the window allows (`all`: regardless, for a clean close). */
  private pump(all: boolean): void {
    while (!this.closed) {
      const head = this.queue[0];
      if (!head) return;
      if (!all && this.inFlight > 0 && this.inFlight + head.bytes > this.opts.maxBytesInFlight) return;
      this.queue.shift();
      this.queued -= head.bytes;
      const buf = gather(head.parts, head.bytes);
      this.inFlight += head.bytes;
      this.port.postMessage({ t: 'frame', bytes: buf } satisfies OnLink, [buf]);
      head.resolve();
    }
  }

  private onMessage(msg: OnLink): void {
    if (this.ended || this.ending !== undefined) return;
    switch (msg.t) {
      case 'frame':
        if (this.reading && this.inbox.length === 0) this.emit(msg.bytes);
        else this.inbox.push(msg.bytes);
        return;
      case 'ack':
        this.inFlight = Math.max(0, this.inFlight - msg.bytes);
        this.pump(false);
        return;
      case 'end':
        this.peerEnded(null);
        return;
      case 'fail':
        this.inbox = [];
        this.peerEnded(
          new PsError(PsErrorCode.PEER_UNREACHABLE, `the other end closed the channel: ${msg.message}`, {
            reason: msg.code,
          }),
        );
        return;
    }
  }

  private drainInbox(): void {
    const frames = this.inbox;
    this.inbox = [];
    for (const f of frames) if (!this.ended) this.emit(f);
    if (this.ending !== undefined) this.shut(this.ending);
  }

  private emit(buf: ArrayBuffer): void {
    if (buf.byteLength > this.maxFrameBytes) {
      const err = new PsError(
        PsErrorCode.FRAME_TOO_LARGE,
        `frame of ${buf.byteLength} bytes exceeds this channel's maxFrameBytes (${this.maxFrameBytes}); the channel was closed`,
        { bytes: buf.byteLength, max: this.maxFrameBytes },
      );
      this.rejectQueue(closedError());
      this.port.postMessage({ t: 'fail', ...err.toWire() } satisfies OnLink);
      this.shut(err);
      return;
    }
    this.subject.next(new Uint8Array(buf));
    this.owe(buf.byteLength);
  }

  /** Acknowledges read bytes to the sender, once per turn of the event loop. */
  private owe(bytes: number): void {
    this.ackOwed += bytes;
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      if (this.closed || this.ackOwed === 0) return;
      this.port.postMessage({ t: 'ack', bytes: this.ackOwed } satisfies OnLink);
      this.ackOwed = 0;
    });
  }

  /** The other end ended (or the port closed): `frames$` ends after what was received. */
  private peerEnded(ending: PsError | null): void {
    if (this.closed || this.ending !== undefined) return;
    this.ending = ending;
    if (ending) this.rejectQueue(ending);
    else this.rejectQueue(closedError());
    if (this.reading) this.drainInbox();
    else this.markClosed();
  }

  private rejectQueue(err: PsError): void {
    for (const s of this.queue.splice(0)) s.reject(err);
    this.queued = 0;
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.onClosed(this);
    this.port.close();
  }

  /** Ends this side: no more sends, the port closes, `frames$` ends with `ending`. */
  private shut(ending: PsError | null): void {
    this.markClosed();
    this.inbox = [];
    if (this.ended) return;
    this.ended = true;
    if (ending) this.subject.error(ending);
    else this.subject.complete();
  }
}
