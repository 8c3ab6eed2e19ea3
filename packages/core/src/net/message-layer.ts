import { type Observable, Subject } from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../wire/frame-codec.js';
import type { NodeAddress, NodeId } from '../wire/message.js';
import { BusyPoll, busyPollWindowMs } from './busy-poll.js';
import { ClusterSecret } from './cluster-secret.js';
import { ConnectionLimits } from './connection-limits.js';
import type { FrameChannel, FrameChannelLimits, FrameTransport } from './frame-transport.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './handshake.js';
import { DEFAULT_MAX_INBOUND_BUFFER_BYTES, InboundBudget } from './inbound-budget.js';
import { LayerLink } from './layer-link.js';
import { type DialedPeer, PeerTable } from './peer-table.js';
import { dialWithRetry } from './reconnect.js';
import { DEFAULT_MAX_QUEUED_BYTES } from './slow-peer.js';
import { DEFAULT_MAX_MESSAGES_PER_SECOND } from './token-bucket.js';
import type { BindOptions, InboundFrame, PeerAddress, Transport, TransportEvent } from './transport.js';

/** Largest frame accepted before a connection's handshake is done (handshake frames are under 200 bytes). */
export const HELLO_MAX_BYTES = 4096;

/** Options of {@link MessageLayer}: everything about connections that is not the medium's own. */
export interface MessageLayerOptions {
  /** Largest frame accepted or sent, in bytes, once a connection's handshake is done. Default 512 MiB (as core's codec), at most the medium's. */
  maxFrameBytes?: number;
  /** How long `connect` keeps retrying a peer that refuses, in ms. Default 30,000. */
  connectTimeoutMs?: number;
  /** How long a dropped outgoing connection is retried before sends fail, in ms. Default 10,000. */
  reconnectWindowMs?: number;
  /**
   * How long a new connection has to complete its handshake (the medium's own, such as TLS, the
   * hellos and, with a secret, the proofs), in ms. Default 5,000 (`DEFAULT_HANDSHAKE_TIMEOUT_MS`).
   */
  helloTimeoutMs?: number;
  /**
   * The cluster secret (at least 16 bytes; every node of the cluster needs the same one), or a
   * `RoleSecrets` (a secret per role). With it, every connection authenticates at the handshake by
   * HMAC challenge and response; the secret never travels. Without it (the default) connections
   * are not authenticated.
   */
  secret?: string | Uint8Array | ClusterSecret;
  /**
   * Most messages a peer may send per second on one connection, once its handshake is done (a
   * token bucket holding one second's worth). A peer going faster is disconnected with
   * `PS_ERR_RATE_LIMIT`. Default 100,000; `Infinity` turns the limit off.
   */
  maxMessagesPerSecond?: number;
  /**
   * Most accepted connections that may be waiting for their handshake at once; further ones are
   * closed at once (`PS_ERR_RATE_LIMIT`, logged once per episode). Default 128.
   */
  maxPendingHandshakes?: number;
  /**
   * Of those, most from one source (remote address); further ones from it are closed at once
   * (`PS_ERR_RATE_LIMIT`), so a flood from one address leaves places for nodes elsewhere. Default 16.
   */
  maxPendingHandshakesPerSource?: number;
  /**
   * Most accepted connections open at once (waiting for their handshake or authenticated);
   * further ones are closed at once (`PS_ERR_CONNECTION_LIMIT`, logged once per episode). Default 1,024.
   */
  maxConnections?: number;
  /**
   * Most bytes of partly received frames this node holds at once, over all its connections, in
   * bytes (the budget every channel gets; stream media claim a frame above 64 KiB from it when its
   * length arrives, and stop reading that connection while the bytes are not free). A frame larger
   * than the whole budget closes its connection (`PS_ERR_INBOUND_BUDGET`). Default 256 MiB.
   */
  maxInboundBufferBytes?: number;
  /**
   * Most bytes queued for sending on one connection. On an accepted connection, a peer that does
   * not read is disconnected at this limit (`PS_ERR_SLOW_PEER`: the send rejects, so do the frames
   * queued); on a dialed one, the send that would pass it is refused (`PS_ERR_SLOW_PEER`) and the
   * connection stays. Default 256 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * Busy polling (see `BusyPoll`): after a frame is sent or received, the process's event loop
   * keeps polling its sockets for this long instead of sleeping, when traffic is dense enough, in
   * µs. It trades CPU for latency: a round trip on a virtual machine's loopback no longer waits
   * for two sleeping cores to wake. Default 100 (`PS_BUSY_POLL_US` in the environment replaces the
   * default); 0 turns it off. Never in a browser.
   */
  busyPollUs?: number;
}

/** The message of a PsError without its code prefix. */
const bare = (e: PsError) => e.message.slice(e.code.length + 2);

/**
 * The message layer (DESIGN.md, "Transports and the message layer"): the node-facing
 * {@link Transport}, written once over any medium that only moves frames ({@link FrameTransport}).
 * It runs core's handshake on every channel (with a secret: HMAC proofs, per-role credentials),
 * admits accepted channels within `maxConnections` and the pending-handshake caps (in all and per
 * source), times out silent ones (`helloTimeoutMs`), keeps the peer table (one link per peer each
 * way, the scheduler's id guarded against impostors), reconnects dialed peers with backoff (sends
 * made meanwhile wait, up to `reconnectWindowMs`), and applies the per-connection limits: the
 * message rate, `maxQueuedBytes` (a slow peer) and, through the medium, the frame size and the
 * node's inbound budget. Bad input closes only the connection it came on, and is reported on
 * `events$`.
 */
export class MessageLayer implements Transport {
  readonly kind: string;
  /** As the medium's (`FrameTransport.passesFramesByReference`): frames handed over uncopied. */
  get passesFramesByReference(): boolean {
    return this.medium.passesFramesByReference === true;
  }
  /** As the medium's (`FrameTransport.sendResolvesAfterWrite`): `send` resolves once the parts are written. */
  get sendResolvesAfterWrite(): boolean {
    return this.medium.sendResolvesAfterWrite === true;
  }
  private readonly framesSubject = new Subject<InboundFrame>();
  private readonly eventsSubject = new Subject<TransportEvent>();
  readonly frames$: Observable<InboundFrame> = this.framesSubject.asObservable();
  readonly events$: Observable<TransportEvent> = this.eventsSubject.asObservable();

  private self: NodeId | undefined;
  private closed = false;
  private readonly peers = new PeerTable();
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectWindowMs: number;
  private readonly helloTimeoutMs: number;
  private readonly secret: ClusterSecret | undefined;
  private readonly maxMessagesPerSecond: number;
  private readonly maxQueuedBytes: number;
  /** `maxConnections` and the pending-handshake limits of accepted channels. */
  private readonly limits: ConnectionLimits;
  /** `maxInboundBufferBytes`: the partial frames of every channel. */
  private readonly budget: InboundBudget;
  /** `busyPollUs` in ms (0: off). */
  private readonly pollMs: number;
  private readonly poll = BusyPoll.shared;

  /**
   * @param medium the frames: listens, dials, one channel per connection (closed with the layer)
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes, or limits that are not
   *   positive numbers.
   */
  constructor(
    readonly medium: FrameTransport,
    opts: MessageLayerOptions = {},
  ) {
    this.kind = medium.kind;
    this.maxFrameBytes = Math.min(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, medium.maxFrameBytes);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
    this.reconnectWindowMs = opts.reconnectWindowMs ?? 10_000;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.secret = ClusterSecret.from(opts.secret);
    this.maxMessagesPerSecond = opts.maxMessagesPerSecond ?? DEFAULT_MAX_MESSAGES_PER_SECOND;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (!(this.maxMessagesPerSecond > 0) || !(this.helloTimeoutMs > 0) || !(this.maxQueuedBytes > 0)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'maxMessagesPerSecond, helloTimeoutMs and maxQueuedBytes must be positive',
      );
    }
    this.limits = new ConnectionLimits({
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxPendingHandshakes !== undefined ? { maxPendingHandshakes: opts.maxPendingHandshakes } : {}),
      ...(opts.maxPendingHandshakesPerSource !== undefined
        ? { maxPendingHandshakesPerSource: opts.maxPendingHandshakesPerSource }
        : {}),
    });
    this.budget = new InboundBudget(opts.maxInboundBufferBytes ?? DEFAULT_MAX_INBOUND_BUFFER_BYTES);
    this.pollMs = busyPollWindowMs(opts.busyPollUs);
  }

  /** A frame arrived: handed on, and the loop kept polling for the next (`busyPollUs`). */
  private readonly inbound = (from: NodeId, frame: InboundFrame['frame']): void => {
    this.poll.kick(this.pollMs);
    this.framesSubject.next({ from, frame });
  };

  /** The secret this layer authenticates with (per-role secrets: which role each peer proved). */
  get credentials(): ClusterSecret | undefined {
    return this.secret;
  }

  /**
   * Sets this node's id and (unless `listen: false`) listens at `self.host:self.port`.
   * @throws PsError `PS_ERR_BIND` when the address cannot be bound, `PS_ERR_CLOSED` after close(),
   *   and the medium's own (`PS_ERR_CONFIG` for TLS without a certificate).
   */
  async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    this.assertOpen();
    this.self = self.id;
    if (options.listen === false) return { ...self, port: 0 };
    const at = await this.medium.listen(
      { host: self.host, port: self.port },
      () => this.channelLimits(),
      (ch) => this.onAccept(ch),
    );
    return { id: self.id, host: self.host, port: at.port };
  }

  /** A new channel's limits: the hello's frame size until the peer is known, the node's budget. */
  private channelLimits(): FrameChannelLimits {
    return { maxFrameBytes: HELLO_MAX_BYTES, budget: this.budget };
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): PsError {
    return new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport is closed`);
  }

  private emitError(error: PsError, peer?: NodeId): void {
    if (!this.closed)
      this.eventsSubject.next(peer === undefined ? { type: 'error', error } : { type: 'error', error, peer });
  }

  private requireSelf(): NodeId {
    if (this.self === undefined) {
      throw new PsError(PsErrorCode.CONFIG, 'bind() the transport (it sets the node id) before connecting');
    }
    return this.self;
  }

  private linkOptions(outgoing: boolean) {
    return {
      outgoing,
      self: this.requireSelf(),
      secret: this.secret,
      admit: (peer: NodeId) => this.peers.admit(peer),
      maxFrameBytes: this.maxFrameBytes,
      maxMessagesPerSecond: this.maxMessagesPerSecond,
      maxQueuedBytes: this.maxQueuedBytes,
    };
  }

  /**
   * An accepted channel: counted against `maxConnections` and the pending-handshake caps (refused
   * at once past them), given `helloTimeoutMs` to complete its handshake, then a peer.
   */
  private onAccept(ch: FrameChannel): void {
    if (this.closed || this.self === undefined) {
      ch.close();
      return;
    }
    const r = this.limits.accept(ch.source);
    if (!r.accepted) {
      ch.close();
      if (r.report) this.emitError(r.report);
      return;
    }
    const { admission } = r;
    const where = ch.remote ?? ch.source;
    // Errors name the connection they came on (unless the medium's message already does).
    const report = (e: PsError, peer: NodeId | undefined) =>
      this.emitError(
        e.message.includes(where)
          ? e
          : new PsError(e.code, `connection from ${where}: ${bare(e)}`, e.details as Record<string, unknown>),
        peer,
      );
    const timer = setTimeout(() => {
      if (link.failed || link.ended || link.peer !== undefined) return;
      link.failed = true;
      this.emitError(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `connection from ${where} did not complete its handshake within ${this.helloTimeoutMs} ms; closed`,
        ),
      );
      ch.close(new PsError(PsErrorCode.HANDSHAKE, 'handshake timed out'));
    }, this.helloTimeoutMs);
    timer.unref?.();

    const link: LayerLink = new LayerLink(ch, this.linkOptions(false), {
      open: (peer) => {
        clearTimeout(timer);
        admission.authenticated();
        this.peers.accept(peer, link);
        this.eventsSubject.next({ type: 'connected', peer });
      },
      // A peer that went away before its handshake is not worth a report.
      refused: (e) => e.code !== PsErrorCode.PEER_UNREACHABLE && report(e, undefined),
      frame: this.inbound,
      failed: (e) => (e.code === PsErrorCode.SLOW_PEER ? this.emitError(e, link.peer) : report(e, link.peer)),
      ended: () => {
        clearTimeout(timer);
        admission.closed();
        if (this.peers.acceptedEnded(link) && !this.closed) {
          this.eventsSubject.next({ type: 'disconnected', peer: link.peer! });
        }
      },
    });
    link.run();
  }

  /** Opens one channel and completes the handshake; rejects on refusal or a failed handshake. */
  private async dialOnce(address: PeerAddress): Promise<LayerLink> {
    const where = `${address.host}:${address.port}`;
    const started = Date.now();
    const ch = await this.medium.dial(address, this.channelLimits(), this.helloTimeoutMs);
    if (this.closed) {
      ch.close();
      throw this.closedError();
    }
    const hint = this.medium.earlyCloseHint ?? '';
    return new Promise<LayerLink>((resolve, reject) => {
      let settled = false;
      const fail = (err: PsError) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        link.failed = true;
        link.close();
        reject(err);
      };
      const link: LayerLink = new LayerLink(ch, this.linkOptions(true), {
        open: () => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          resolve(link);
        },
        refused: (e) => {
          if (e.code === PsErrorCode.PEER_UNREACHABLE) {
            fail(
              new PsError(
                PsErrorCode.PEER_UNREACHABLE,
                `connection to ${where} closed before its handshake completed${hint}: ${bare(e)}`,
              ),
            );
            return;
          }
          const said = e.code === PsErrorCode.AUTH || e.details?.remote === true;
          fail(
            said || e.code === PsErrorCode.RATE_LIMIT
              ? new PsError(e.code, `${where}: ${bare(e)}`)
              : new PsError(PsErrorCode.HANDSHAKE, `${where} is not a @ps node of this version: ${bare(e)}`),
          );
        },
        frame: this.inbound,
        failed: (e) => this.emitError(e, link.peer),
        ended: () =>
          fail(
            new PsError(
              PsErrorCode.PEER_UNREACHABLE,
              `connection to ${where} closed before its handshake completed${hint}`,
            ),
          ),
      });
      const timer: ReturnType<typeof setTimeout> = setTimeout(
        () =>
          fail(
            new PsError(
              PsErrorCode.HANDSHAKE,
              `${where} did not complete the handshake within ${this.helloTimeoutMs} ms`,
            ),
          ),
        Math.max(1, this.helloTimeoutMs - (Date.now() - started)),
      );
      timer.unref?.();
      link.run();
    });
  }

  private dialWithRetry(address: PeerAddress, windowMs: number): Promise<LayerLink> {
    return dialWithRetry(
      (a) => this.dialOnce(a),
      address,
      windowMs,
      () => (this.closed ? this.closedError() : undefined),
    );
  }

  /**
   * Opens a connection to a peer (retrying one that refuses, up to `connectTimeoutMs`) and
   * completes the handshake. Resolves with the peer's id; the link reconnects by itself when
   * dropped, until `close()`.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE`, `PS_ERR_HANDSHAKE` (not a `@ps` node of this
   *   version), `PS_ERR_AUTH` (refused credentials), `PS_ERR_CONFIG` (not bound), `PS_ERR_CLOSED`.
   */
  async connect(peer: PeerAddress): Promise<NodeId> {
    this.assertOpen();
    this.requireSelf();
    const known = this.peers.dialedAt(peer);
    if (known !== undefined) return known;
    const link = await this.dialWithRetry(peer, this.connectTimeoutMs);
    const id = link.peer!;
    const prev = this.peers.dialed.get(id);
    if (prev?.link && prev.link !== link) {
      prev.link.drop(new PsError(PsErrorCode.PEER_UNREACHABLE, `${id} dialed again; older link closed`));
    }
    const d: DialedPeer = { address: peer, link, waiters: [], reconnecting: false };
    this.peers.dialed.set(id, d);
    const impostor = this.peers.dropImpostor(id);
    if (impostor) this.emitError(impostor);
    this.watch(id, d, link);
    this.eventsSubject.next({ type: 'connected', peer: id });
    return id;
  }

  /** Reconnects a dialed peer when its link ends (unless the layer is closing). */
  private watch(id: NodeId, d: DialedPeer, link: LayerLink): void {
    void link.done.then(() => {
      if (d.link !== link || this.closed) return;
      d.link = undefined;
      this.eventsSubject.next({ type: 'disconnected', peer: id });
      void this.reconnect(id, d);
    });
  }

  private async reconnect(id: NodeId, d: DialedPeer): Promise<void> {
    if (d.reconnecting) return;
    d.reconnecting = true;
    try {
      const link = await this.dialWithRetry(d.address, this.reconnectWindowMs);
      if (this.closed) {
        link.close();
        return;
      }
      d.link = link;
      this.watch(id, d, link);
      this.eventsSubject.next({ type: 'connected', peer: id });
      for (const w of d.waiters.splice(0)) w.resolve(link);
    } catch (err) {
      const e = new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `lost connection to ${id} and could not reconnect: ${(err as Error).message}`,
      );
      for (const w of d.waiters.splice(0)) w.reject(e);
      if (this.peers.dialed.get(id) === d) this.peers.dialed.delete(id);
      this.emitError(e, id);
    } finally {
      d.reconnecting = false;
    }
  }

  /**
   * Sends one frame to a peer over the link this node dialed to it, else the one it accepted
   * from it; while a dialed peer reconnects, the send waits (up to `reconnectWindowMs`).
   * @throws PsError `PS_ERR_UNKNOWN_PEER`, `PS_ERR_PEER_UNREACHABLE`, `PS_ERR_FRAME_TOO_LARGE`
   *   (over `maxFrameBytes`), `PS_ERR_SLOW_PEER` (over `maxQueuedBytes`), `PS_ERR_CLOSED`.
   */
  async send(peer: NodeId, frame: readonly Uint8Array[]): Promise<void> {
    this.assertOpen();
    let total = 0;
    for (const p of frame) total += p.byteLength;
    if (total > this.maxFrameBytes) {
      throw new PsError(
        PsErrorCode.FRAME_TOO_LARGE,
        `frame of ${total} bytes exceeds maxFrameBytes (${this.maxFrameBytes})`,
      );
    }
    this.poll.kick(this.pollMs);
    const l = this.peers.linkFor(peer);
    const link = l instanceof Promise ? await l : l;
    return link.write(frame, total);
  }

  /** Closes every link and the medium; idempotent. Sends waiting for a reconnect reject `PS_ERR_CLOSED`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.peers.clear(new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport was closed`));
    await this.medium.close();
    this.framesSubject.complete();
    this.eventsSubject.complete();
  }
}

/**
 * Makes the node-facing transport over a medium: `createWorker({ transport: messageLayer(new
 * TcpFrameTransport(), { secret }) })` (what `tcp()` does).
 * @throws PsError `PS_ERR_CONFIG` as {@link MessageLayer}'s constructor.
 */
export function messageLayer(frames: FrameTransport, opts: MessageLayerOptions = {}): MessageLayer {
  return new MessageLayer(frames, opts);
}
