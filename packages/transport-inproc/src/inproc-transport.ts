import {
  type BindOptions,
  ClusterSecret,
  DEFAULT_MAX_FRAME_BYTES,
  displacedSchedulerImpostor,
  frameLength,
  Handshake,
  type InboundFrame,
  type NodeAddress,
  type NodeId,
  type PeerAddress,
  PsError,
  PsErrorCode,
  refuseSchedulerImpostor,
  type Transport,
  type TransportEvent,
} from '@ps/core';
import { type Observable, Subject } from 'rxjs';
import { defaultInprocHub, type InprocHub } from './inproc-hub.js';

/** Options of {@link inproc}. */
export interface InprocTransportOptions {
  /** The hub to listen in and look peers up in. Default: {@link defaultInprocHub}. */
  hub?: InprocHub;
  /** Largest frame sent or accepted, in bytes. Default 512 MiB (core's `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
  /** How long `connect` waits for someone to listen at the address, in ms. Default 2,000. */
  connectTimeoutMs?: number;
  /**
   * How long a dropped outgoing link waits for a listener to come back at its address (with the
   * same node id), in ms. Sends to that peer wait meanwhile. Default 2,000.
   */
  reconnectWindowMs?: number;
  /**
   * The cluster secret (at least 16 bytes). With it, every link runs core's authenticated
   * handshake (HMAC challenge and response) and a transport with another secret, or none, is
   * refused with `PS_ERR_AUTH`, as on the socket transports. Without it (the default) links are
   * not authenticated. In one process this guards against misconfiguration, not against code
   * running in the same process, which can read the secret anyway.
   */
  secret?: string | Uint8Array | ClusterSecret;
}

/** Most handshake frames either side sends (hello, proof or answer, ok, and an error frame). */
const MAX_HANDSHAKE_TURNS = 6;

/** One end of a link between two transports of a hub. */
class LinkEnd {
  open = true;
  /** The other end; set right after both ends are made. */
  other!: LinkEnd;

  constructor(
    /** The transport this end belongs to. */
    readonly owner: InprocTransport,
    /** The node id at the other end. */
    readonly peer: NodeId,
    /** True at the end that called `connect`. */
    readonly dialed: boolean,
  ) {}
}

interface Dialed {
  address: PeerAddress;
  end: LinkEnd | undefined;
  /** Set while a dropped link is being re-established; sends wait for it. */
  reconnect: Promise<LinkEnd> | undefined;
}

/** Why a link end was lost: its other end closed, or a newer link of the same id replaced it. */
type LossReason = 'closed' | 'replaced';

/**
 * The in-process transport: delivery between transports of one thread that share an
 * {@link InprocHub}. A frame is handed over as the sender's parts array, without copying a
 * byte: the receiver sees the very `Uint8Array`s that were sent, so a sender must not reuse
 * them after `send` (core's encoder never does). Delivery is asynchronous (one microtask per
 * frame) and in order per link; `send` resolves once the receiver's `frames$` has emitted the
 * frame. The handshake is core's `Handshake`, run between the two transports in lock step, so
 * ids (and, with a `secret`, the proofs) are checked as on the wire.
 *
 * Links carry frames both ways. When one end closes, the other emits `disconnected` (after the
 * frames sent before the close); an outgoing link then waits up to `reconnectWindowMs` for a
 * listener to come back at its address. A newer link from the same node id replaces the older
 * one; the replaced dialer gets `disconnected` and a `PS_ERR_HANDSHAKE` error event and does not
 * reconnect (two live transports with one id would otherwise take turns evicting each other).
 */
export class InprocTransport implements Transport {
  readonly kind = 'inproc';
  private readonly framesSubject = new Subject<InboundFrame>();
  private readonly eventsSubject = new Subject<TransportEvent>();
  readonly frames$: Observable<InboundFrame> = this.framesSubject.asObservable();
  readonly events$: Observable<TransportEvent> = this.eventsSubject.asObservable();

  /** The hub this transport listens in and looks peers up in. */
  readonly hub: InprocHub;
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectWindowMs: number;
  private readonly secret: ClusterSecret | undefined;
  /** The secret this transport authenticates with (per-role secrets: which role each peer proved). */
  get credentials(): ClusterSecret | undefined {
    return this.secret;
  }
  private self: NodeId | undefined;
  private listening: { host: string; port: number } | undefined;
  private readonly dialed = new Map<NodeId, Dialed>();
  private readonly accepted = new Map<NodeId, LinkEnd>();
  private readonly connecting = new Map<string, Promise<NodeId>>();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(opts: InprocTransportOptions = {}) {
    this.hub = opts.hub ?? defaultInprocHub;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2_000;
    this.reconnectWindowMs = opts.reconnectWindowMs ?? 2_000;
    this.secret = ClusterSecret.from(opts.secret);
  }

  /**
   * Sets this node's id and (unless `listen: false`) registers `self.host:self.port` in the hub;
   * port 0 gets a fresh port number (1 and up). With `listen: false` the port resolved is 0.
   * @throws PsError `PS_ERR_BIND` (address in use in the hub, invalid port, already listening),
   *   `PS_ERR_CLOSED`.
   */
  async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    this.assertOpen();
    if (options.listen === false) {
      this.self = self.id;
      return { ...self, port: 0 };
    }
    if (this.listening) {
      const at = `${this.listening.host}:${this.listening.port}`;
      throw new PsError(
        PsErrorCode.BIND,
        `this transport already listens on ${at}; make one transport per node`,
      );
    }
    const port = this.hub.listen(self.host, self.port, this);
    this.self = self.id;
    this.listening = { host: self.host, port };
    return { id: self.id, host: self.host, port };
  }

  /**
   * Links to the transport listening at `peer` in this hub, waiting up to `connectTimeoutMs`
   * for one to appear. Resolves with its node id. Connecting again to an address already
   * linked resolves at once with the same id.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (nothing listened there in time),
   *   `PS_ERR_HANDSHAKE` (an id is not a valid node id), `PS_ERR_AUTH` (the secrets differ, or
   *   the listener refused the id), `PS_ERR_CONFIG` (not bound yet), `PS_ERR_CLOSED`.
   */
  async connect(peer: PeerAddress): Promise<NodeId> {
    this.assertOpen();
    this.requireSelf();
    for (const [id, d] of this.dialed) {
      if (d.address.host !== peer.host || d.address.port !== peer.port) continue;
      if (d.end?.open) return id;
      if (d.reconnect) return (await d.reconnect).peer;
    }
    const key = `${peer.host}:${peer.port}`;
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const attempt = this.dialNew(peer).finally(() => this.connecting.delete(key));
    this.connecting.set(key, attempt);
    return attempt;
  }

  private async dialNew(address: PeerAddress): Promise<NodeId> {
    const end = await this.dial(address, this.connectTimeoutMs);
    const prev = this.dialed.get(end.peer);
    if (prev?.end && prev.end !== end) this.drop(prev.end);
    this.dialed.set(end.peer, {
      address: { host: address.host, port: address.port },
      end,
      reconnect: undefined,
    });
    this.dropImpostor(end.peer);
    this.eventsSubject.next({ type: 'connected', peer: end.peer });
    return end.peer;
  }

  /** Closes an accepted link that claimed the id of the scheduler, which this transport now dials. */
  private dropImpostor(id: NodeId): void {
    const err = displacedSchedulerImpostor(id, 'link');
    const a = this.accepted.get(id);
    if (!err || !a?.open) return;
    this.accepted.delete(id);
    this.drop(a);
    this.emitError(err);
  }

  /** Waits (up to `windowMs`) for a listener at `address` and links to it. */
  private async dial(address: PeerAddress, windowMs: number): Promise<LinkEnd> {
    const deadline = Date.now() + windowMs;
    for (;;) {
      await this.hub.waitFor(
        address.host,
        address.port,
        Math.max(0, deadline - Date.now()),
        this.abort.signal,
      );
      this.assertOpen();
      const remote = this.hub.lookup(address.host, address.port);
      // The listener may have closed in the microtask since the wait resolved: wait again.
      if (remote instanceof InprocTransport && !remote.closed) {
        const end = await this.handshake(remote);
        if (end) return end;
      }
    }
  }

  /**
   * Runs core's handshake with the listener `remote`, in lock step, and links the two when both
   * sides completed it. The listener reports a refusal on its `events$`; the dialer throws it.
   * Returns undefined when the listener closed meanwhile.
   */
  private async handshake(remote: InprocTransport): Promise<LinkEnd | undefined> {
    const mine = new Handshake({ side: 'dial', self: this.requireSelf(), secret: this.secret });
    const theirs = remote.acceptHandshake();
    let frame: Uint8Array | undefined = mine.start();
    let dialerId: NodeId | undefined;
    for (let turn = 0; turn < MAX_HANDSHAKE_TURNS && frame !== undefined; turn++) {
      const atListener = turn % 2 === 0;
      const step = await (atListener ? theirs : mine).receive(frame);
      if (atListener && step.peer !== undefined) dialerId = step.peer;
      frame = step.send;
      if (!step.error) continue;
      if (atListener) {
        remote.emitError(step.error);
        const told = frame === undefined ? undefined : (await mine.receive(frame)).error;
        throw told ?? step.error;
      }
      const answer = frame === undefined ? undefined : (await theirs.receive(frame)).error;
      if (answer) remote.emitError(answer);
      throw step.error;
    }
    if (!mine.done || !theirs.done || dialerId === undefined) {
      throw new PsError(PsErrorCode.HANDSHAKE, 'the in-process handshake did not complete');
    }
    return remote.link(this, dialerId);
  }

  /** Runs on the listener: the accepting side of a new link's handshake. */
  private acceptHandshake(): Handshake {
    return new Handshake({
      side: 'accept',
      self: this.requireSelf(),
      secret: this.secret,
      admit: (peer) => refuseSchedulerImpostor(peer, this.dialed, 'link'),
    });
  }

  /**
   * Runs on the listener once both sides completed the handshake: makes both ends of the link
   * and replaces an older link from the same id. Returns the dialer's end, or undefined when
   * this transport closed meanwhile.
   */
  private link(dialer: InprocTransport, dialerId: NodeId): LinkEnd | undefined {
    if (this.closed) return undefined;
    const listenerId = this.requireSelf();
    const mine = new LinkEnd(this, dialerId, false);
    const theirs = new LinkEnd(dialer, listenerId, true);
    mine.other = theirs;
    theirs.other = mine;
    const old = this.accepted.get(dialerId);
    if (old?.open) this.drop(old, 'replaced');
    this.accepted.set(dialerId, mine);
    queueMicrotask(() => {
      if (mine.open && !this.closed) this.eventsSubject.next({ type: 'connected', peer: dialerId });
    });
    return theirs;
  }

  /** Closes this end and tells the other end, after the frames already on their way. */
  private drop(end: LinkEnd, reason: LossReason = 'closed'): void {
    if (!end.open) return;
    end.open = false;
    const other = end.other;
    queueMicrotask(() => other.owner.lost(other, reason));
  }

  /** Runs on the transport whose link end lost its other end. */
  private lost(end: LinkEnd, reason: LossReason): void {
    if (!end.open) return;
    end.open = false;
    if (this.closed) return;
    if (!end.dialed) {
      if (this.accepted.get(end.peer) === end) {
        this.accepted.delete(end.peer);
        this.eventsSubject.next({ type: 'disconnected', peer: end.peer });
      }
      return;
    }
    const d = this.dialed.get(end.peer);
    if (!d || d.end !== end) return;
    d.end = undefined;
    this.eventsSubject.next({ type: 'disconnected', peer: end.peer });
    if (reason === 'replaced') {
      this.dialed.delete(end.peer);
      this.emitError(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `another transport with node id ${this.self} linked to ${end.peer}; this link was closed (node ids must be unique)`,
        ),
        end.peer,
      );
      return;
    }
    const reconnect = this.redial(end.peer, d);
    d.reconnect = reconnect;
    reconnect.catch(() => undefined);
  }

  /** Re-links a dropped outgoing link when a transport with the same id listens at its address again. */
  private async redial(id: NodeId, d: Dialed): Promise<LinkEnd> {
    try {
      const end = await this.dial(d.address, this.reconnectWindowMs);
      if (end.peer !== id) {
        this.drop(end);
        throw new PsError(
          PsErrorCode.PEER_UNREACHABLE,
          `${d.address.host}:${d.address.port} is now ${end.peer}, not ${id}`,
        );
      }
      d.end = end;
      d.reconnect = undefined;
      this.eventsSubject.next({ type: 'connected', peer: id });
      return end;
    } catch (err) {
      if (this.dialed.get(id) === d) this.dialed.delete(id);
      const e = err as PsError;
      if (e.code === PsErrorCode.CLOSED) throw e;
      const lost = new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `lost the link to ${id} and could not re-link: ${e.message}`,
        { peer: id },
      );
      this.emitError(lost, id);
      throw lost;
    }
  }

  /**
   * Hands `frame` (the parts, not copied) to `peer`'s transport. Resolves once the receiver's
   * `frames$` emitted it.
   * @throws PsError `PS_ERR_UNKNOWN_PEER` (no link to that id), `PS_ERR_PEER_UNREACHABLE` (the
   *   link closed before delivery, or could not be re-linked), `PS_ERR_FRAME_TOO_LARGE` (past
   *   this transport's or the receiver's `maxFrameBytes`), `PS_ERR_CLOSED`.
   */
  async send(peer: NodeId, frame: readonly Uint8Array[]): Promise<void> {
    this.assertOpen();
    const bytes = frameLength(frame);
    if (bytes > this.maxFrameBytes) {
      throw new PsError(
        PsErrorCode.FRAME_TOO_LARGE,
        `frame of ${bytes} bytes exceeds maxFrameBytes (${this.maxFrameBytes})`,
        {
          bytes,
          max: this.maxFrameBytes,
        },
      );
    }
    let end = this.endTo(peer);
    if (!end) {
      const reconnect = this.dialed.get(peer)?.reconnect;
      if (!reconnect) {
        throw new PsError(
          PsErrorCode.UNKNOWN_PEER,
          `no link to ${peer}; connect() to it first or wait for it to connect`,
          { peer },
        );
      }
      end = await reconnect;
    }
    const to = end.other;
    return new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        const err = to.owner.receive(to, frame, bytes);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private endTo(peer: NodeId): LinkEnd | undefined {
    const d = this.dialed.get(peer)?.end;
    if (d?.open) return d;
    const a = this.accepted.get(peer);
    return a?.open ? a : undefined;
  }

  /** Runs on the receiver: emits the frame, or says why it could not. */
  private receive(end: LinkEnd, frame: readonly Uint8Array[], bytes: number): PsError | undefined {
    if (!end.open || this.closed) {
      return new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `the link to ${this.self ?? 'peer'} closed before the frame was delivered`,
      );
    }
    if (bytes > this.maxFrameBytes) {
      const err = new PsError(
        PsErrorCode.FRAME_TOO_LARGE,
        `frame of ${bytes} bytes from ${end.peer} exceeds the receiver's maxFrameBytes (${this.maxFrameBytes}); it was dropped`,
        { bytes, max: this.maxFrameBytes },
      );
      this.emitError(err, end.peer);
      return err;
    }
    this.framesSubject.next({ from: end.peer, frame });
    return undefined;
  }

  /**
   * Closes every link (peers emit `disconnected` after the frames already sent) and leaves the
   * hub; `frames$` and `events$` complete. Sends waiting for a re-link reject `PS_ERR_CLOSED`.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.listening) this.hub.unlisten(this.listening.host, this.listening.port, this);
    for (const d of this.dialed.values()) if (d.end) this.drop(d.end);
    for (const a of this.accepted.values()) this.drop(a);
    this.dialed.clear();
    this.accepted.clear();
    this.framesSubject.complete();
    this.eventsSubject.complete();
  }

  private assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the in-process transport is closed');
  }

  private requireSelf(): NodeId {
    if (this.self === undefined) {
      throw new PsError(PsErrorCode.CONFIG, 'bind() the transport (it sets the node id) before connecting');
    }
    return this.self;
  }

  private emitError(error: PsError, peer?: NodeId): void {
    if (!this.closed)
      this.eventsSubject.next(peer === undefined ? { type: 'error', error } : { type: 'error', error, peer });
  }
}

/**
 * Makes an in-process transport: `createWorker({ transport: inproc(), ... })`. Pass one `hub`
 * to the transports of a test to isolate them from other tests.
 */
export function inproc(opts: InprocTransportOptions = {}): InprocTransport {
  return new InprocTransport(opts);
}
