import type { Observable } from 'rxjs';
import type { PsError } from '../errors.js';
import type { InboundBudget } from './inbound-budget.js';

/** Where a medium listens or dials: a host and port (in-process media use their own names). */
export interface FrameAddress {
  host: string;
  port: number;
}

/**
 * What the message layer gives a medium for one channel: the limits a medium must enforce
 * before it buffers a byte. The message layer raises `maxFrameBytes` after the handshake
 * (through {@link FrameChannel.setMaxFrameBytes}) and hands the same `budget` to every channel
 * of a node.
 */
export interface FrameChannelLimits {
  /** Largest frame accepted on this channel until raised, in bytes (the handshake's limit first). */
  maxFrameBytes: number;
  /**
   * The node's budget of partly received frame bytes. A stream medium claims a frame's length
   * from it when the length prefix arrives (frames above `INBOUND_BUDGET_EXEMPT_BYTES`), stops
   * reading while the claim waits, and releases it once the frame is handed out. Media that
   * never hold partial frames (in-process) ignore it.
   */
  budget: InboundBudget;
}

/**
 * One connection of a medium, carrying whole frames both ways, in order (DESIGN.md,
 * "Transports and the message layer"). A channel knows nothing of node ids, handshakes,
 * secrets or reconnects: the message layer in core does all that once, for every medium.
 */
export interface FrameChannel {
  /**
   * The far end as the medium sees it, for per-source limits and logs: for TCP the remote IP
   * (`127.0.0.1`); in-process media name their own (`inproc`). Channels from one source share
   * the per-source pending-handshake cap.
   */
  readonly source: string;
  /**
   * Optional: the far end in full for messages (`127.0.0.1:50312`); the message layer names a
   * connection by `source` when it is missing.
   */
  readonly remote?: string;
  /**
   * Writes one frame: the parts back to back, after the medium's own framing. Resolves when
   * the medium can take more (backpressure), not when the peer has read it.
   * @throws PsError `PS_ERR_FRAME_TOO_LARGE` (over the medium's limit, nothing sent),
   *   `PS_ERR_CLOSED` (the channel closed or failed first).
   */
  send(parts: readonly Uint8Array[]): Promise<void>;
  /** Bytes accepted by `send` and not yet handed to the OS (or the peer), for slow-peer limits. */
  readonly queuedBytes: number;
  /**
   * Every frame received, in order: one buffer (stream media; a view where it can be) or the
   * sender's parts (in-process). Errors once with a `PsError` when the medium fails or rejects
   * input (`PS_ERR_FRAME_TOO_LARGE`, `PS_ERR_FRAME_MALFORMED`, `PS_ERR_INBOUND_BUDGET`, a reset:
   * `PS_ERR_PEER_UNREACHABLE`), completes when either end closes cleanly. Subscribe at once:
   * frames are not buffered for late subscribers beyond what arrived before the first one.
   */
  readonly frames$: Observable<Uint8Array | readonly Uint8Array[]>;
  /** Raises (or lowers) the largest frame this channel accepts from now on, in bytes. */
  setMaxFrameBytes(bytes: number): void;
  /**
   * Closes the channel; idempotent. With `reason`, pending sends reject with it and the peer's
   * side ends as a failure; without, queued frames are flushed first where the medium can.
   */
  close(reason?: PsError): void;
}

/**
 * The contract a medium implements (TCP, WebSocket, in-process, worker threads): listen,
 * dial, and a {@link FrameChannel} per connection; nothing else. The message layer in core
 * (`MessageLayer`, which implements the node-facing `Transport`) adds the handshake,
 * authentication, the peer table, reconnection, limits and delivery on top, once.
 *
 * Run `runFrameTransportConformance` from `@ps/core/testing` against every implementation.
 */
export interface FrameTransport {
  /** Short name for logs and stats (`tcp`, `ws`, `inproc`, `thread`). */
  readonly kind: string;
  /** The largest frame this medium can carry, in bytes (the layer never raises a channel past it). */
  readonly maxFrameBytes: number;
  /**
   * Optional: words the message layer adds when a dialed channel ends before its handshake, to
   * say what may be wrong with this medium's settings (TCP: ` (a TLS port? ...)`).
   */
  readonly earlyCloseHint?: string;
  /**
   * Optional: true when a frame reaches the receiver as the sender's very parts array (one
   * thread, no copy). The message layer then says so to core, which skips encoding data messages.
   */
  readonly passesFramesByReference?: boolean;
  /**
   * Optional: true when a channel's `send` resolves only once the medium is done with the parts'
   * memory (the kernel took their last byte), so the sender may reuse it then. The message layer
   * says so to core, which then gives a pooled answer buffer back once its send resolved.
   */
  readonly sendResolvesAfterWrite?: boolean;
  /**
   * Listens at `at` and calls `accept` with every new channel (before any of its frames).
   * Resolves with the real address (port 0 becomes the port chosen).
   * @throws PsError `PS_ERR_BIND` when the address cannot be bound.
   */
  listen(
    at: FrameAddress,
    limits: () => FrameChannelLimits,
    accept: (channel: FrameChannel) => void,
  ): Promise<FrameAddress>;
  /**
   * Opens one channel to `at`. No retries: the message layer retries and reconnects.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (refused, reset or `timeoutMs` passed),
   *   `PS_ERR_HANDSHAKE` (the medium's own handshake failed, for example TLS).
   */
  dial(at: FrameAddress, limits: FrameChannelLimits, timeoutMs: number): Promise<FrameChannel>;
  /** Stops listening and closes every channel it made; idempotent. */
  close(): Promise<void>;
}
