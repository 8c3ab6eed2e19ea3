import { type FrameChannel, type FrameChannelLimits, frameLength, PsError, PsErrorCode } from '@ps/core';
import { Observable, Subject } from 'rxjs';

/** A frame on its way to one end: the sender's parts and the settling of the sender's `send`. */
interface Delivery {
  parts: readonly Uint8Array[];
  bytes: number;
  resolve: () => void;
  reject: (err: PsError) => void;
}

/** What one end of a new channel gets from its transport. */
export interface EndOptions {
  limits: FrameChannelLimits;
  /** The medium's own limit on what this end sends, in bytes. */
  mediumMaxBytes: number;
  onClosed: (ch: InprocChannel) => void;
}

/** How an end's `frames$` ends once its inbox is read: cleanly (`null`) or with an error. */
type Ending = PsError | null;

function closedError(): PsError {
  return new PsError(PsErrorCode.CLOSED, 'the in-process channel is closed; dial a new one');
}

/**
 * One end of an in-process channel (two ends made together by {@link InprocChannel.pair}). A
 * frame sent at one end goes, as the sender's very parts array, into the other end's inbox;
 * the inbox is read in a microtask once `frames$` has a subscriber, in order, and each `send`
 * resolves when its frame was emitted there: so a sender runs ahead of a receiver by at most
 * the frames it has not awaited, and `queuedBytes` counts them.
 */
export class InprocChannel implements FrameChannel {
  readonly source = 'inproc';
  readonly frames$: Observable<readonly Uint8Array[]>;
  private readonly subject = new Subject<readonly Uint8Array[]>();
  private other!: InprocChannel;
  /** Frames from the other end not yet emitted, read from `head` on. */
  private inbox: (Delivery | undefined)[] = [];
  private head = 0;
  private reading = false;
  private scheduled = false;
  /** Set when the other end closed: how `frames$` ends after the inbox. */
  private ending: Ending | undefined;
  /** `frames$` has ended. */
  private ended = false;
  /** No more sends from this end. */
  private closed = false;
  /** The reason this end was closed with, which later sends reject with too. */
  private reason: PsError | undefined;
  /** Bytes this end sent that the other end has not emitted yet. */
  private outBytes = 0;

  private constructor(
    private maxFrameBytes: number,
    /** The medium's own limit on what this end sends, in bytes. */
    private readonly mediumMaxBytes: number,
    private readonly onClosed: (ch: InprocChannel) => void,
  ) {
    this.frames$ = new Observable<readonly Uint8Array[]>((subscriber) => {
      const sub = this.subject.subscribe(subscriber);
      if (!this.reading) {
        this.reading = true;
        this.schedule();
      }
      return sub;
    });
  }

  /**
   * Makes the two ends of a channel, `[dialer's, listener's]`, each with the limits and the
   * `onClosed` (run once, when that end closes or fails) of its own transport.
   */
  static pair(dialer: EndOptions, listener: EndOptions): [InprocChannel, InprocChannel] {
    const a = new InprocChannel(dialer.limits.maxFrameBytes, dialer.mediumMaxBytes, dialer.onClosed);
    const b = new InprocChannel(listener.limits.maxFrameBytes, listener.mediumMaxBytes, listener.onClosed);
    a.other = b;
    b.other = a;
    return [a, b];
  }

  get queuedBytes(): number {
    return this.outBytes;
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(this.reason ?? closedError());
    const bytes = frameLength(parts);
    if (bytes > this.mediumMaxBytes) {
      return Promise.reject(
        new PsError(
          PsErrorCode.FRAME_TOO_LARGE,
          `frame of ${bytes} bytes exceeds the in-process transport's maxFrameBytes (${this.mediumMaxBytes}); nothing was sent`,
          { bytes, max: this.mediumMaxBytes },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.outBytes += bytes;
      this.other.inbox.push({ parts, bytes, resolve, reject });
      this.other.schedule();
    });
  }

  setMaxFrameBytes(bytes: number): void {
    this.maxFrameBytes = bytes;
  }

  close(reason?: PsError): void {
    if (this.closed) return;
    this.closed = true;
    this.reason = reason;
    this.onClosed(this);
    // Frames from the other end that this end will not read: their sends fail.
    this.dropInbox(closedError());
    this.end(null);
    if (reason) {
      this.other.dropInbox(reason);
      this.other.peerClosed(
        new PsError(PsErrorCode.PEER_UNREACHABLE, `the other end closed the channel: ${reason.message}`, {
          reason: reason.code,
        }),
      );
    } else {
      // Clean: the frames this end sent are still read, then the other end completes.
      this.other.peerClosed(null);
    }
  }

  /** The other end closed: no more sends here; `frames$` ends after the inbox with `ending`. */
  private peerClosed(ending: Ending): void {
    if (this.ending !== undefined || this.ended) return;
    this.ending = ending;
    if (!this.closed) {
      this.closed = true;
      this.onClosed(this);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.ended) return;
    if (!this.reading && this.ending === undefined) return;
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  /** Emits the inbox in order (once someone reads), then ends `frames$` if the other end closed. */
  private drain(): void {
    this.scheduled = false;
    if (this.reading) {
      while (this.head < this.inbox.length && !this.ended) {
        const d = this.inbox[this.head]!;
        this.inbox[this.head++] = undefined;
        this.other.outBytes -= d.bytes;
        if (d.bytes > this.maxFrameBytes) {
          this.refuse(d);
          return;
        }
        this.subject.next(d.parts);
        d.resolve();
      }
      if (this.head === this.inbox.length) {
        this.inbox = [];
        this.head = 0;
      }
    }
    if (this.ending !== undefined && this.head === this.inbox.length) this.end(this.ending);
  }

  /** A frame over this end's limit: its send and this end's `frames$` fail, and so the channel. */
  private refuse(d: Delivery): void {
    const err = new PsError(
      PsErrorCode.FRAME_TOO_LARGE,
      `frame of ${d.bytes} bytes exceeds this channel's maxFrameBytes (${this.maxFrameBytes}); the channel was closed`,
      { bytes: d.bytes, max: this.maxFrameBytes },
    );
    d.reject(err);
    this.closed = true;
    this.onClosed(this);
    this.dropInbox(closedError());
    this.end(err);
    this.other.dropInbox(closedError());
    this.other.peerClosed(
      new PsError(PsErrorCode.PEER_UNREACHABLE, `the other end refused a frame: ${err.message}`, {
        reason: err.code,
      }),
    );
  }

  /** Fails every frame not yet emitted here (the other end's sends reject with `err`). */
  private dropInbox(err: PsError): void {
    const rest = this.inbox.slice(this.head);
    this.inbox = [];
    this.head = 0;
    for (const d of rest) {
      if (!d) continue;
      this.other.outBytes -= d.bytes;
      d.reject(err);
    }
  }

  private end(ending: Ending): void {
    if (this.ended) return;
    this.ended = true;
    if (ending) this.subject.error(ending);
    else this.subject.complete();
  }
}
