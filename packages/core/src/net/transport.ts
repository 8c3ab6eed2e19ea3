import type { Observable } from 'rxjs';
import type { PsError } from '../errors.js';
import type { NodeAddress, NodeId } from '../wire/message.js';
import type { ClusterSecret } from './cluster-secret.js';

/** Where to connect: a host and port (the peer's id is learned from its handshake). */
export interface PeerAddress {
  host: string;
  port: number;
}

/** One frame received from a peer: the bytes of one {@link encodeFrame} output. */
export interface InboundFrame {
  /** The peer's node id, as it said in its handshake. */
  from: NodeId;
  /** The frame: one buffer (stream transports) or the sender's parts (in-process). */
  frame: Uint8Array | readonly Uint8Array[];
}

/** Connection-level happenings a node may react to (reconnects, losses, bad input). */
export type TransportEvent =
  | { type: 'connected'; peer: NodeId }
  | { type: 'disconnected'; peer: NodeId }
  | { type: 'error'; error: PsError; peer?: NodeId };

/** Options of {@link Transport.bind}. */
export interface BindOptions {
  /**
   * Listen for incoming connections (default true). A worker that only connects out may pass
   * false: the transport then records its id for handshakes and listens nowhere.
   */
  listen?: boolean;
}

/**
 * The contract every transport implements (DESIGN.md, "Transports"). A transport moves opaque
 * frames between node ids; it knows nothing of keys, values or commands. Heartbeats, resends,
 * ACKs and de-duplication live in core, once for all transports.
 *
 * Identity: `bind` sets this node's id, which every connection announces in its handshake, so
 * `frames$` can say who sent each frame. Connections carry frames both ways: a node that only
 * connects out (a worker) is answered over the connection it opened.
 *
 * Run `runTransportConformance` from `@ps/core/testing` against every implementation.
 */
export interface Transport {
  /** Short name for logs and stats (`tcp`, `inproc`, `ws`). */
  readonly kind: string;
  /**
   * The cluster secret the transport authenticates with, if any. With per-role secrets (a
   * `RoleSecrets`), the scheduler and servers ask it which credential each peer proved.
   */
  readonly credentials?: ClusterSecret | undefined;
  /**
   * True when `send` hands the very parts array to the receiving node in the same thread (the
   * in-process transport). Core then sends a data message without encoding its meta: the array
   * carries the message itself, beside its segments' bytes. Leave it unset for any transport
   * that copies, serializes or crosses a thread.
   */
  readonly passesFramesByReference?: boolean;
  /**
   * True when `send` resolves only once the parts' memory is no longer read (written to the
   * kernel, or copied): core may then reuse a pooled buffer it sent (see `largeBufferPool`).
   * Leave it unset when a send may resolve earlier.
   */
  readonly sendResolvesAfterWrite?: boolean;
  /**
   * Sets this node's id and (unless `listen: false`) listens at `self.host:self.port`.
   * Resolves with the real address (port 0 becomes the port the OS chose).
   * @throws PsError `PS_ERR_BIND` when the address cannot be bound.
   */
  bind(self: NodeAddress, options?: BindOptions): Promise<NodeAddress>;
  /**
   * Opens a connection to a peer and completes the handshake. Resolves with the peer's id.
   * Outgoing connections reconnect by themselves when dropped, until `close()`.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` when the peer cannot be reached in time,
   *   `PS_ERR_HANDSHAKE` when it does not speak this protocol.
   */
  connect(peer: PeerAddress): Promise<NodeId>;
  /**
   * Sends one frame (the parts are written back to back, without being copied into one buffer
   * where the transport can avoid it). Resolves when the frame is handed to the OS (or to the
   * peer, in-process); honours backpressure by resolving only once the transport can take more.
   * @throws PsError `PS_ERR_UNKNOWN_PEER` (no connection to that id), `PS_ERR_PEER_UNREACHABLE`
   *   (reconnect window passed), `PS_ERR_FRAME_TOO_LARGE`, `PS_ERR_CLOSED`.
   */
  send(peer: NodeId, frame: readonly Uint8Array[]): Promise<void>;
  /** Every frame received, in order per connection. Completes on `close()`. */
  readonly frames$: Observable<InboundFrame>;
  /** Connections made and lost, and bad input rejected (the node keeps serving). */
  readonly events$: Observable<TransportEvent>;
  /** Closes every connection and the listener; idempotent. Pending sends reject `PS_ERR_CLOSED`. */
  close(): Promise<void>;
}
