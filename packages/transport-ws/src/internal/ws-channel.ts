/**
 * One WebSocket connection as a core `FrameChannel`, shared by the Node and browser media: one
 * binary message is one frame; the send queue and its backpressure; the close handshake. It
 * imports only '@ps/core' and 'rxjs' (no Node module, no `Buffer`), so the browser entry uses it
 * too; the media differ only in the {@link SocketAdapter} they hand it.
 */
import { type FrameChannel, PsError, PsErrorCode } from '@ps/core';
import { Observable, Subject } from 'rxjs';

/** Longest interval between two `bufferedAmount` polls while a send waits, in ms. */
export const MAX_POLL_INTERVAL_MS = 50;

/** Default `highWaterMarkBytes`: sends wait while a socket buffers more than this. 1 MiB. */
export const DEFAULT_HIGH_WATER_MARK_BYTES = 1024 * 1024;

/** WebSocket close codes this medium sends (RFC 6455, section 7.4.1). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
} as const;

/** What a channel needs of a socket: `ws`'s `WebSocket` or the platform one, adapted. */
export interface SocketAdapter {
  /** Bytes handed to the socket and not yet sent. */
  readonly bufferedAmount: number;
  /** True while the socket is OPEN (sends are possible). */
  readonly isOpen: boolean;
  /**
   * Sends the parts as one binary message; `done` runs once the message was handed to the OS
   * (Node) or to the browser, or with an error when it could not be sent.
   */
  send(parts: readonly Uint8Array[], total: number, done: (err?: Error) => void): void;
  /** Starts a clean close (a close frame); the adapter reports the end to {@link WsChannel.ended}. */
  close(code: number, reason: string): void;
  /** Drops the connection at once (where the platform can; a browser falls back to `close`). */
  terminate(): void;
  /** Sets the largest message the socket accepts, checked where the platform can (Node: before buffering). */
  setMaxPayload(bytes: number): void;
}

interface QueuedFrame {
  parts: readonly Uint8Array[];
  len: number;
  resolve: () => void;
  reject: (e: PsError) => void;
}

/** Lets a timer not keep Node alive (a no-op in a browser). */
export function unref(t: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  (t as unknown as { unref?: () => void }).unref?.();
  return t;
}

const utf8 = new TextEncoder();

/** A close reason cut to the 123 bytes a close frame can carry. */
export function closeReason(reason: string): string {
  let r = reason.length > 123 ? reason.slice(0, 123) : reason;
  while (utf8.encode(r).byteLength > 123) r = r.slice(0, -1);
  return r;
}

/** How long a closing socket may take before it is terminated, in ms. */
const CLOSE_GRACE_MS = 1000;

/**
 * A WebSocket connection carrying frames (core's `FrameChannel`). States: open; closing (a clean
 * `close()` waits for the send queue to drain, then sends a close frame); ended (the socket
 * closed, or this side gave up on it). Frames received before `frames$` has a subscriber are
 * kept for the first one.
 */
export class WsChannel implements FrameChannel {
  private readonly subject = new Subject<Uint8Array>();
  /** Frames received before the first subscriber; `undefined` once someone subscribed. */
  private early: Uint8Array[] | undefined = [];
  private readonly queue: QueuedFrame[] = [];
  private queued = 0;
  private poll: ReturnType<typeof setTimeout> | undefined;
  private pollMs = 1;
  /** Set while `flush` runs (a browser socket reports sends synchronously, which re-enters it). */
  private flushing = false;
  private state: 'open' | 'closing' | 'ended' = 'open';
  /** Why sends now fail, once the channel is closing or ended. */
  private closeError: PsError | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly endHooks: (() => void)[] = [];
  private maxFrame: number;
  private raised: (() => void) | undefined;

  readonly frames$: Observable<Uint8Array> = new Observable<Uint8Array>((sub) => {
    const early = this.early;
    this.early = undefined;
    if (early) for (const f of early) sub.next(f);
    return this.subject.subscribe(sub);
  });

  /**
   * @param socket the adapted socket, open.
   * @param source the far end's address (its IP), for per-source limits and messages.
   * @param maxSendBytes the largest frame this medium sends, in bytes.
   * @param maxFrameBytes the largest frame accepted until {@link setMaxFrameBytes}, in bytes.
   * @param highWaterMarkBytes sends wait while the socket buffers more than this, in bytes.
   * @param remote the far end in full for messages (`127.0.0.1:50312`).
   */
  constructor(
    private readonly socket: SocketAdapter,
    readonly source: string,
    private readonly maxSendBytes: number,
    maxFrameBytes: number,
    private readonly highWaterMarkBytes: number,
    readonly remote: string = source,
  ) {
    this.maxFrame = maxFrameBytes;
    socket.setMaxPayload(maxFrameBytes);
  }

  /** The largest frame accepted now, in bytes. */
  get maxFrameBytes(): number {
    return this.maxFrame;
  }

  get queuedBytes(): number {
    return this.queued + (this.state === 'ended' ? 0 : this.socket.bufferedAmount);
  }

  /** True once the socket closed (or was given up on). */
  get isEnded(): boolean {
    return this.state === 'ended';
  }

  /** Runs `f` once the channel ended (at once if it has). */
  onEnd(f: () => void): void {
    if (this.state === 'ended') f();
    else this.endHooks.push(f);
  }

  /** Runs `f` at the first {@link setMaxFrameBytes} (the message layer's handshake completed). */
  onceRaised(f: () => void): void {
    this.raised = f;
  }

  setMaxFrameBytes(bytes: number): void {
    const raised = this.raised;
    this.raised = undefined;
    raised?.();
    this.maxFrame = bytes;
    if (this.state !== 'ended') this.socket.setMaxPayload(bytes);
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.state !== 'open') {
      return Promise.reject(
        this.closeError ?? new PsError(PsErrorCode.CLOSED, `the connection to ${this.source} is closed`),
      );
    }
    let len = 0;
    for (const p of parts) len += p.byteLength;
    if (len > this.maxSendBytes) {
      return Promise.reject(
        new PsError(
          PsErrorCode.FRAME_TOO_LARGE,
          `frame of ${len} bytes exceeds maxFrameBytes (${this.maxSendBytes}); send smaller requests or raise maxFrameBytes on every node`,
          { bytes: len, max: this.maxSendBytes },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ parts, len, resolve, reject });
      this.queued += len;
      this.flush();
    });
  }

  close(reason?: PsError): void {
    if (this.state === 'ended') return;
    // Closing cleanly (draining the queue) is the one close that a reason still overrides.
    const draining = this.state === 'closing' && this.closeError?.code === PsErrorCode.CLOSED;
    if (this.state === 'closing' && !(reason && draining)) return;
    this.state = 'closing';
    if (reason) {
      this.closeError = reason;
      this.rejectQueued(reason);
      // A peer that does not read would hold a close frame behind what it has not read: drop it.
      if (this.socket.bufferedAmount > 0 || !this.socket.isOpen) this.terminate();
      else this.closeSocket(CloseCode.POLICY_VIOLATION, reason.message);
      return;
    }
    this.closeError = new PsError(PsErrorCode.CLOSED, `the connection to ${this.source} was closed`);
    if (this.queue.length === 0) this.closeSocket(CloseCode.NORMAL, '');
    // else flush() sends the close frame once the queue drained.
  }

  /** Closes like the far end going away (a node shutting down): pending sends reject with `err`. */
  goAway(err: PsError): void {
    if (this.state === 'ended') return;
    this.closeError ??= err;
    this.rejectQueued(err);
    this.state = 'closing';
    if (this.socket.isOpen) this.closeSocket(CloseCode.GOING_AWAY, 'node closing');
    else this.terminate();
  }

  /** A binary message arrived (a text one is `undefined`, and refused). */
  received(data: Uint8Array | undefined): void {
    if (this.state === 'ended' || this.subject.closed) return;
    if (data === undefined) {
      this.failed(
        new PsError(
          PsErrorCode.FRAME_MALFORMED,
          `${this.source} sent a text message; @ps frames are binary WebSocket messages only; connection closed`,
        ),
        CloseCode.UNSUPPORTED_DATA,
      );
      return;
    }
    if (data.byteLength > this.maxFrame) {
      this.failed(this.tooLarge(data.byteLength), CloseCode.MESSAGE_TOO_BIG);
      return;
    }
    if (this.early) this.early.push(data);
    else this.subject.next(data);
  }

  /** The error a message above the limit gets (from the medium, or from {@link received}). */
  tooLarge(bytes?: number): PsError {
    return new PsError(
      PsErrorCode.FRAME_TOO_LARGE,
      `${this.source} sent a message ${bytes === undefined ? 'larger than' : `of ${bytes} bytes, above`} the ${this.maxFrame} bytes allowed on this connection; connection closed`,
      { max: this.maxFrame, ...(bytes === undefined ? {} : { bytes }) },
    );
  }

  /**
   * The medium rejected input (or failed): `frames$` errors with `err`, pending sends reject
   * with it, and the socket is closed with `code` (terminated when it does not close in time).
   */
  failed(err: PsError, code: number = CloseCode.POLICY_VIOLATION): void {
    if (this.state === 'ended') return;
    this.closeError ??= err;
    this.rejectQueued(err);
    // Closed before the error is told, so that a close(reason) in answer changes nothing.
    const wasOpen = this.state === 'open';
    this.state = 'closing';
    if (wasOpen && this.socket.isOpen) this.closeSocket(code, err.message);
    else if (wasOpen) this.terminate();
    if (!this.subject.closed) this.subject.error(err);
  }

  /**
   * The socket closed (`code` and `reason` from its close frame; 1006 when there was none; a
   * browser's 40xx read as 10xx):
   * `frames$` completes after a clean close (1000, 1001, or one this side started) and errors
   * with `PS_ERR_PEER_UNREACHABLE` otherwise.
   */
  ended(code: number, reason: string): void {
    if (this.state === 'ended') return;
    const byUs = this.state === 'closing';
    // A browser sends 10xx as 40xx (it may not send 1001-1015 itself).
    if (code >= 4000 && code < 4016) code -= 3000;
    this.state = 'ended';
    if (this.poll !== undefined) clearTimeout(this.poll);
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    const clean = byUs || code === CloseCode.NORMAL || code === CloseCode.GOING_AWAY;
    const err = new PsError(
      PsErrorCode.PEER_UNREACHABLE,
      clean
        ? `the connection to ${this.source} closed before a queued frame was sent`
        : `the connection to ${this.source} failed (close code ${code}${reason ? `: ${reason}` : ''})`,
      { code },
    );
    this.rejectQueued(this.closeError ?? err);
    if (!this.subject.closed) {
      if (clean) this.subject.complete();
      else this.subject.error(err);
    }
    for (const f of this.endHooks.splice(0)) f();
  }

  private rejectQueued(err: PsError): void {
    this.queued = 0;
    for (const q of this.queue.splice(0)) q.reject(err);
  }

  private closeSocket(code: number, reason: string): void {
    try {
      this.socket.close(code, closeReason(reason));
    } catch {
      this.terminate();
      return;
    }
    this.graceTimer ??= unref(setTimeout(() => this.terminate(), CLOSE_GRACE_MS));
  }

  /** Drops the socket; if the platform reports no end within a second, gives up on it. */
  private terminate(): void {
    this.socket.terminate();
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = unref(setTimeout(() => this.ended(1006, 'abandoned'), CLOSE_GRACE_MS));
  }

  /**
   * Sends queued frames while the socket buffers at most the high-water mark; otherwise polls
   * `bufferedAmount` at a growing interval (at most {@link MAX_POLL_INTERVAL_MS}) and on each
   * send's completion. So a sender that does not await cannot grow the socket's buffer past the
   * high-water mark plus one frame.
   */
  private flush(): void {
    if (this.flushing || this.state === 'ended') return;
    if (this.poll !== undefined) {
      clearTimeout(this.poll);
      this.poll = undefined;
    }
    this.flushing = true;
    let progressed = false;
    try {
      while (
        this.queue.length > 0 &&
        this.socket.isOpen &&
        this.socket.bufferedAmount <= this.highWaterMarkBytes
      ) {
        progressed = true;
        const item = this.queue.shift()!;
        this.queued -= item.len;
        this.sendNow(item);
      }
    } finally {
      this.flushing = false;
    }
    if (progressed) this.pollMs = 1;
    if (this.queue.length > 0 && this.socket.isOpen) {
      this.poll = unref(
        setTimeout(() => {
          this.poll = undefined;
          this.flush();
        }, this.pollMs),
      );
      this.pollMs = Math.min(this.pollMs * 2, MAX_POLL_INTERVAL_MS);
    } else if (this.queue.length === 0 && this.state === 'closing' && this.graceTimer === undefined) {
      this.closeSocket(CloseCode.NORMAL, '');
    }
  }

  private sendNow({ parts, len, resolve, reject }: QueuedFrame): void {
    const failed = (err: unknown) =>
      reject(
        this.closeError ??
          new PsError(
            PsErrorCode.PEER_UNREACHABLE,
            `send to ${this.source} failed: ${err instanceof Error ? err.message : String(err)}`,
            undefined,
            { cause: err },
          ),
      );
    try {
      this.socket.send(parts, len, (err) => {
        if (err) failed(err);
        else resolve();
        if (this.queue.length > 0 || this.state === 'closing') this.flush();
      });
    } catch (err) {
      failed(err);
    }
  }
}
