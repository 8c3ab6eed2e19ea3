import {
  DEFAULT_MAX_FRAME_BYTES,
  type FrameAddress,
  type FrameChannel,
  type FrameChannelLimits,
  type FrameTransport,
  PsError,
  PsErrorCode,
} from '@ps/core';
import { defaultInprocHub, type InprocHub } from './inproc-hub.js';
import { type EndOptions, InprocChannel } from './internal/inproc-channel.js';
import { InprocListener } from './internal/inproc-listener.js';

/** Options of {@link InprocFrameTransport}. */
export interface InprocFrameTransportOptions {
  /** The hub to listen in and look listeners up in. Default: {@link defaultInprocHub}. */
  hub?: InprocHub;
  /** Largest frame this medium carries, in bytes. Default 512 MiB (core's `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
}

/**
 * The in-process medium: channels between transports of one thread that share an
 * {@link InprocHub}, addressed by the hub's `host:port` names. A frame is handed over as the
 * sender's parts array, without copying a byte (so a sender must not reuse the parts after
 * `send`; core's encoder never does), asynchronously (in a microtask) and in order. A `send`
 * resolves once the other end's `frames$` emitted the frame, so a sender never runs ahead of a
 * reader by more than the frames it has not awaited (`queuedBytes`). A frame over the
 * receiving end's `maxFrameBytes` fails that send and the channel with
 * `PS_ERR_FRAME_TOO_LARGE`.
 *
 * Only moves frames: the handshake, peers, limits and reconnection are core's `MessageLayer`.
 */
export class InprocFrameTransport implements FrameTransport {
  readonly kind = 'inproc';
  /** Frames reach the receiver as the sender's own parts array (core skips encoding data messages). */
  readonly passesFramesByReference = true;
  readonly maxFrameBytes: number;
  /** The hub this transport listens in and looks listeners up in. */
  readonly hub: InprocHub;
  private readonly listeners = new Set<InprocListener>();
  private readonly channels = new Set<InprocChannel>();
  private closed = false;

  constructor(opts: InprocFrameTransportOptions = {}) {
    this.hub = opts.hub ?? defaultInprocHub;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /**
   * Registers `at` in the hub (port 0: a fresh port number, 1 and up) and calls `accept` with
   * the listener's end of every channel dialed to it.
   * @throws PsError `PS_ERR_BIND` (the address is in use in the hub, or the port is not an
   *   integer in 0..65535), `PS_ERR_CLOSED`.
   */
  async listen(
    at: FrameAddress,
    limits: () => FrameChannelLimits,
    accept: (channel: FrameChannel) => void,
  ): Promise<FrameAddress> {
    this.assertOpen();
    const listener = new InprocListener(this, limits, accept);
    const port = this.hub.listen(at.host, at.port, listener);
    listener.at = { host: at.host, port };
    this.listeners.add(listener);
    return { host: at.host, port };
  }

  /**
   * Opens a channel to the listener at `at` in this hub; the listener's `accept` has its end
   * before this resolves. Nothing listening there is a refusal, at once (the message layer
   * retries), so `timeoutMs` is never waited.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (nothing listens at `at` in this hub),
   *   `PS_ERR_CLOSED` (this transport is closed).
   */
  async dial(at: FrameAddress, limits: FrameChannelLimits, _timeoutMs: number): Promise<FrameChannel> {
    this.assertOpen();
    // One turn of the event loop per dial: a loop of dials and closes (two nodes with one id
    // taking turns) then still lets timers and I/O run, as on a socket.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.assertOpen();
    const remote = this.hub.lookup(at.host, at.port);
    if (remote?.open) return remote.connect(this, limits);
    throw new PsError(
      PsErrorCode.PEER_UNREACHABLE,
      `nothing listens on ${at.host}:${at.port} in this hub; is the peer started, with the same hub?`,
      { host: at.host, port: at.port },
    );
  }

  /** @internal Runs for a listener of this transport: makes the channel's ends, gives the listener its own. */
  connectTo(
    listener: InprocListener,
    dialer: InprocFrameTransport,
    limits: FrameChannelLimits,
  ): InprocChannel {
    const [mine, theirs] = InprocChannel.pair(dialer.end(limits), this.end(listener.limits()));
    dialer.channels.add(mine);
    this.channels.add(theirs);
    listener.accept(theirs);
    return mine;
  }

  private end(limits: FrameChannelLimits): EndOptions {
    return { limits, mediumMaxBytes: this.maxFrameBytes, onClosed: (ch) => this.channels.delete(ch) };
  }

  /** Leaves the hub and closes every channel (cleanly: frames already sent are still read). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.listeners) l.close();
    this.listeners.clear();
    for (const ch of [...this.channels]) ch.close();
    this.channels.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the in-process transport is closed');
  }
}
