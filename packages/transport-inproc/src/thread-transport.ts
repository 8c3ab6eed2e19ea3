import type { MessagePort } from 'node:worker_threads';
import {
  type BindOptions,
  ClusterSecret,
  DEFAULT_MAX_FRAME_BYTES,
  displacedSchedulerImpostor,
  frameLength,
  Handshake,
  type HandshakeStep,
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
import type { FromHub, OnLink, ToHub } from './internal/thread-protocol.js';

/** Options of {@link threads}. */
export interface ThreadTransportOptions {
  /** This transport's port to a {@link ThreadHub} (`hub.connectPort()`); one port per transport. */
  port: MessagePort;
  /** Largest frame sent or accepted, in bytes. Default 512 MiB (core's `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
  /** How long `connect` waits for someone to listen at the address, in ms. Default 2,000. */
  connectTimeoutMs?: number;
  /**
   * How long a dropped outgoing link waits for a listener to come back at its address (with the
   * same node id), in ms. Sends to that peer wait meanwhile. Default 2,000.
   */
  reconnectWindowMs?: number;
  /** How long either side of a new link waits for the handshake to complete, in ms. Default 10,000. */
  helloTimeoutMs?: number;
  /**
   * The cluster secret (at least 16 bytes). With it, every link runs core's authenticated
   * handshake (HMAC challenge and response) and a transport with another secret, or none, is
   * refused with `PS_ERR_AUTH`, as on the socket transports. Without it (the default) links are
   * not authenticated.
   */
  secret?: string | Uint8Array | ClusterSecret;
  /**
   * Flow control: bytes sent on one link and not yet taken by the receiving thread, in bytes.
   * Past it, sends wait (in order) until the receiver catches up; a single larger frame still
   * goes alone. Default 64 MiB.
   */
  maxBytesInFlight?: number;
}

interface PendingSend {
  parts: readonly Uint8Array[];
  bytes: number;
  resolve: () => void;
  reject: (err: PsError) => void;
}

/** A dialer's wait for the handshake to complete. */
interface DialWait {
  resolve: (link: Link) => void;
  reject: (err: PsError) => void;
}

/** This side of a link: a port of the `MessageChannel` the hub made for the two transports. */
class Link {
  /** The node id at the other end, once the handshake completed. */
  peer: NodeId | undefined;
  open = true;
  /** The listener said a newer link from this node id replaced this one. */
  kicked = false;
  /** Frame bytes posted and not yet acknowledged by the receiver. */
  inFlight = 0;
  /** Sends waiting for the flow-control window, in order. */
  readonly queue: PendingSend[] = [];
  /** Frame bytes received and not yet acknowledged to the sender. */
  ackOwed = 0;
  ackScheduled = false;
  handshake: DialWait | undefined;
  helloTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly port: MessagePort,
    /** True at the end that called `connect`. */
    readonly dialed: boolean,
    /** Core's handshake, run over the link's port. */
    readonly auth: Handshake,
  ) {}
}

interface Dialed {
  address: PeerAddress;
  link: Link | undefined;
  /** Set while a dropped link is being re-established; sends wait for it. */
  reconnect: Promise<Link> | undefined;
}

interface PendingRequest {
  resolve: (reply: FromHub) => void;
  reject: (err: PsError) => void;
}

/** Pause before retrying a link that closed during its handshake, in ms. */
const RETRY_DELAY_MS = 10;

/** How long `close()` waits for the hub to release this transport's address, in ms. */
const RELEASE_WAIT_MS = 1_000;

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

/**
 * The worker-threads transport: delivery between transports of one process, in any threads,
 * that share a {@link ThreadHub}. The hub only matches addresses; each link is its own
 * `MessageChannel`, so frames go directly from thread to thread. A frame's parts are copied
 * once into one new `ArrayBuffer`, which is then transferred (not cloned); the receiver gets it
 * as one 8-aligned `Uint8Array`, which core decodes into views without further copies.
 *
 * The handshake is core's hello, exchanged over the new link. `send` resolves once the frame is
 * posted to the receiving thread; a per-link window (`maxBytesInFlight`) of frames not yet taken
 * by the receiver makes sends wait when the receiving thread falls behind. Links carry frames
 * both ways. When a link closes (its transport closed, its thread exited), the other end emits
 * `disconnected` after the frames posted before; an outgoing link then waits up to
 * `reconnectWindowMs` for a listener to come back at its address. A newer link from the same
 * node id replaces the older one; the replaced dialer gets `disconnected` and a
 * `PS_ERR_HANDSHAKE` error event and does not reconnect.
 *
 * The hub port is ref'd only while this transport listens or waits for the hub, link ports while
 * open; `close()` closes them all, so a closed transport never keeps its thread alive.
 */
export class ThreadTransport implements Transport {
  readonly kind = 'threads';
  private readonly framesSubject = new Subject<InboundFrame>();
  private readonly eventsSubject = new Subject<TransportEvent>();
  readonly frames$: Observable<InboundFrame> = this.framesSubject.asObservable();
  readonly events$: Observable<TransportEvent> = this.eventsSubject.asObservable();

  private readonly hubPort: MessagePort;
  private hubOpen = true;
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectWindowMs: number;
  private readonly helloTimeoutMs: number;
  private readonly maxBytesInFlight: number;
  private readonly secret: ClusterSecret | undefined;
  /** The secret this transport authenticates with (per-role secrets: which role each peer proved). */
  get credentials(): ClusterSecret | undefined {
    return this.secret;
  }
  private self: NodeId | undefined;
  private listening: { host: string; port: number } | undefined;
  private nextReq = 1;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly links = new Set<Link>();
  private readonly dialed = new Map<NodeId, Dialed>();
  private readonly accepted = new Map<NodeId, Link>();
  private readonly connecting = new Map<string, Promise<NodeId>>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(opts: ThreadTransportOptions) {
    this.hubPort = opts.port;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2_000;
    this.reconnectWindowMs = opts.reconnectWindowMs ?? 2_000;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
    this.maxBytesInFlight = opts.maxBytesInFlight ?? 64 * 1024 * 1024;
    this.secret = ClusterSecret.from(opts.secret);
    this.hubPort.on('message', (msg: FromHub) => this.onHubMessage(msg));
    this.hubPort.on('close', () => this.onHubClosed());
    this.refreshHubRef();
  }

  /**
   * Sets this node's id and (unless `listen: false`) registers `self.host:self.port` at the hub;
   * port 0 gets a fresh port number (1 and up). With `listen: false` the port resolved is 0.
   * @throws PsError `PS_ERR_BIND` (address in use at the hub, invalid port, already listening,
   *   hub closed), `PS_ERR_CLOSED`.
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
    let reply: FromHub;
    try {
      reply = await this.ask({ t: 'bind', req: this.nextReq++, host: self.host, port: self.port });
    } catch (err) {
      const e = err as PsError;
      if (e.code === PsErrorCode.BIND || e.code === PsErrorCode.CLOSED) throw e;
      throw new PsError(
        PsErrorCode.BIND,
        `cannot listen on ${self.host}:${self.port}: ${e.message}`,
        undefined,
        { cause: e },
      );
    }
    if (reply.t !== 'bound')
      throw new PsError(PsErrorCode.PROTOCOL, `the ThreadHub answered a bind with ${reply.t}`);
    this.assertOpen();
    this.self = self.id;
    this.listening = { host: self.host, port: reply.port };
    this.refreshHubRef();
    return { id: self.id, host: self.host, port: reply.port };
  }

  /**
   * Asks the hub for a link to whoever listens at `peer` (waiting up to `connectTimeoutMs` for
   * one to appear) and exchanges hellos over it. Resolves with the peer's node id. Connecting
   * again to an address already linked resolves at once with the same id.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (nothing listened there in time, the link closed
   *   during the handshake, or the hub is closed), `PS_ERR_HANDSHAKE` (bad or missing hello),
   *   `PS_ERR_AUTH` (the secrets differ, or the listener refused the id), `PS_ERR_CONFIG` (not
   *   bound yet), `PS_ERR_CLOSED`.
   */
  async connect(peer: PeerAddress): Promise<NodeId> {
    this.assertOpen();
    this.requireSelf();
    for (const [id, d] of this.dialed) {
      if (d.address.host !== peer.host || d.address.port !== peer.port) continue;
      if (d.link?.open) return id;
      if (d.reconnect) {
        await d.reconnect;
        return id;
      }
    }
    const key = `${peer.host}:${peer.port}`;
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const attempt = this.dialNew(peer).finally(() => this.connecting.delete(key));
    this.connecting.set(key, attempt);
    return attempt;
  }

  private async dialNew(address: PeerAddress): Promise<NodeId> {
    const link = await this.dial(address, this.connectTimeoutMs);
    const id = link.peer!;
    const prev = this.dialed.get(id);
    if (prev?.link && prev.link !== link) {
      this.closeLink(
        prev.link,
        new PsError(PsErrorCode.PEER_UNREACHABLE, `the link to ${id} was replaced by a newer one`),
      );
    }
    this.dialed.set(id, { address: { host: address.host, port: address.port }, link, reconnect: undefined });
    const impostor = this.accepted.get(id);
    const err = displacedSchedulerImpostor(id, 'link');
    if (err && impostor?.open) {
      this.accepted.delete(id);
      this.emitError(err);
      this.closeLink(impostor, err);
    }
    this.eventsSubject.next({ type: 'connected', peer: id });
    return id;
  }

  /**
   * Gets a link to `address` from the hub (waiting up to `waitMs` for a listener) and runs the
   * handshake. A link that closes before the hello (the listener was closing as the hub matched
   * it) is retried while the window lasts.
   */
  private async dial(address: PeerAddress, waitMs: number): Promise<Link> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return await this.dialOnce(address, Math.max(0, deadline - Date.now()));
      } catch (err) {
        const e = err as PsError;
        if (!e.details?.linkLost || this.closed || Date.now() + RETRY_DELAY_MS >= deadline) throw e;
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      }
    }
  }

  private async dialOnce(address: PeerAddress, waitMs: number): Promise<Link> {
    const self = this.requireSelf();
    const reply = await this.ask({
      t: 'connect',
      req: this.nextReq++,
      host: address.host,
      port: address.port,
      waitMs,
    });
    if (reply.t !== 'linked')
      throw new PsError(PsErrorCode.PROTOCOL, `the ThreadHub answered a connect with ${reply.t}`);
    if (this.closed) {
      reply.link.close();
      throw new PsError(PsErrorCode.CLOSED, 'the thread transport was closed while connecting');
    }
    const link = new Link(reply.link, true, new Handshake({ side: 'dial', self, secret: this.secret }));
    const done = new Promise<Link>((resolve, reject) => {
      link.handshake = { resolve, reject };
    });
    this.wire(link);
    link.port.postMessage({ t: 'hello', hello: link.auth.start() } satisfies OnLink);
    return done;
  }

  /** Runs on the listener when the hub hands it a new link; the dialer's hello comes first. */
  private onAccept(port: MessagePort): void {
    if (this.closed) {
      port.close();
      return;
    }
    const auth = new Handshake({
      side: 'accept',
      self: this.requireSelf(),
      secret: this.secret,
      admit: (peer) => refuseSchedulerImpostor(peer, this.dialed, 'link'),
    });
    this.wire(new Link(port, false, auth));
  }

  /** Starts listening on a link's port, with a deadline for the other side's hello. */
  private wire(link: Link): void {
    this.links.add(link);
    link.port.on('message', (msg: OnLink) => this.onLinkMessage(link, msg));
    link.port.on('close', () => this.onLinkClosed(link));
    link.helloTimer = setTimeout(() => {
      const err = new PsError(
        PsErrorCode.HANDSHAKE,
        `the other side of a new link did not complete the handshake within ${this.helloTimeoutMs} ms`,
      );
      if (!link.dialed) this.emitError(err);
      this.closeLink(link, err);
    }, this.helloTimeoutMs);
    link.helloTimer.unref();
  }

  private onLinkMessage(link: Link, msg: OnLink): void {
    if (!link.open) return;
    switch (msg.t) {
      case 'frame':
        this.onFrame(link, msg.bytes);
        return;
      case 'ack':
        link.inFlight = Math.max(0, link.inFlight - msg.bytes);
        this.pump(link);
        return;
      case 'hello':
        this.onHandshakeFrame(link, msg.hello);
        return;
      case 'kick':
        link.kicked = true;
        return;
    }
  }

  /** A handshake frame from the other side; core's `Handshake` says what to answer. */
  private onHandshakeFrame(link: Link, frame: Uint8Array): void {
    if (link.peer !== undefined) return;
    const step = link.auth.receive(frame);
    if (step instanceof Promise) void step.then((s) => this.applyStep(link, s));
    else this.applyStep(link, step);
  }

  private applyStep(link: Link, step: HandshakeStep): void {
    if (!link.open) return;
    if (step.send) link.port.postMessage({ t: 'hello', hello: step.send } satisfies OnLink);
    if (step.error) {
      if (!link.dialed) this.emitError(step.error);
      this.closeLink(link, step.error);
      return;
    }
    const id = step.peer;
    if (id === undefined) return;
    clearTimeout(link.helloTimer);
    link.peer = id;
    if (link.dialed) {
      const hs = link.handshake;
      link.handshake = undefined;
      hs?.resolve(link);
      return;
    }
    const old = this.accepted.get(id);
    if (old?.open) {
      old.port.postMessage({ t: 'kick' } satisfies OnLink);
      this.closeLink(
        old,
        new PsError(PsErrorCode.PEER_UNREACHABLE, `the link from ${id} was replaced by a newer one`),
      );
    }
    this.accepted.set(id, link);
    this.eventsSubject.next({ type: 'connected', peer: id });
  }

  private onFrame(link: Link, bytes: ArrayBuffer): void {
    if (link.peer === undefined) {
      this.emitError(
        new PsError(PsErrorCode.HANDSHAKE, 'a frame arrived on a link before its hello; the link was closed'),
      );
      this.closeLink(link, new PsError(PsErrorCode.HANDSHAKE, 'frame before hello'));
      return;
    }
    this.owe(link, bytes.byteLength);
    if (bytes.byteLength > this.maxFrameBytes) {
      this.emitError(
        new PsError(
          PsErrorCode.FRAME_TOO_LARGE,
          `frame of ${bytes.byteLength} bytes from ${link.peer} exceeds maxFrameBytes (${this.maxFrameBytes}); it was dropped`,
          { bytes: bytes.byteLength, max: this.maxFrameBytes },
        ),
        link.peer,
      );
      return;
    }
    this.framesSubject.next({ from: link.peer, frame: new Uint8Array(bytes) });
  }

  /** Acknowledges received bytes to the sender, once per turn of the event loop. */
  private owe(link: Link, bytes: number): void {
    link.ackOwed += bytes;
    if (link.ackScheduled) return;
    link.ackScheduled = true;
    setImmediate(() => {
      link.ackScheduled = false;
      if (!link.open || link.ackOwed === 0) return;
      link.port.postMessage({ t: 'ack', bytes: link.ackOwed } satisfies OnLink);
      link.ackOwed = 0;
    });
  }

  /** The other side closed the link (its transport closed or its thread exited), or we did. */
  private onLinkClosed(link: Link): void {
    if (!link.open) return;
    const lost = new PsError(PsErrorCode.PEER_UNREACHABLE, `the link to ${link.peer ?? 'a peer'} closed`);
    this.closeLink(link, lost);
    const peer = link.peer;
    if (this.closed || peer === undefined) return;
    if (!link.dialed) {
      if (this.accepted.get(peer) === link) {
        this.accepted.delete(peer);
        this.eventsSubject.next({ type: 'disconnected', peer });
      }
      return;
    }
    const d = this.dialed.get(peer);
    if (!d || d.link !== link) return;
    d.link = undefined;
    this.eventsSubject.next({ type: 'disconnected', peer });
    if (link.kicked) {
      this.dialed.delete(peer);
      this.emitError(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `another transport with node id ${this.self} linked to ${peer}; this link was closed (node ids must be unique)`,
        ),
        peer,
      );
      return;
    }
    const reconnect = this.redial(peer, d);
    d.reconnect = reconnect;
    reconnect.catch(() => undefined);
  }

  /** Closes this side of a link: waiting sends and a pending handshake reject with `err`. */
  private closeLink(link: Link, err: PsError): void {
    if (!link.open) return;
    link.open = false;
    this.links.delete(link);
    clearTimeout(link.helloTimer);
    for (const s of link.queue.splice(0)) s.reject(err);
    const hs = link.handshake;
    link.handshake = undefined;
    hs?.reject(
      err.code === PsErrorCode.PEER_UNREACHABLE
        ? new PsError(err.code, `${err.message.slice(err.code.length + 2)} before its hello`, {
            linkLost: true,
          })
        : err,
    );
    link.port.close();
  }

  /** Re-links a dropped outgoing link when a transport with the same id listens at its address again. */
  private async redial(id: NodeId, d: Dialed): Promise<Link> {
    try {
      const link = await this.dial(d.address, this.reconnectWindowMs);
      if (link.peer !== id) {
        this.closeLink(link, new PsError(PsErrorCode.PEER_UNREACHABLE, `not ${id}`));
        throw new PsError(
          PsErrorCode.PEER_UNREACHABLE,
          `${d.address.host}:${d.address.port} is now ${link.peer}, not ${id}`,
        );
      }
      d.link = link;
      d.reconnect = undefined;
      this.eventsSubject.next({ type: 'connected', peer: id });
      return link;
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
   * Copies `frame`'s parts into one new buffer and transfers it to `peer`'s thread. Resolves once
   * posted; waits first (in order) while the link's `maxBytesInFlight` window is full.
   * @throws PsError `PS_ERR_UNKNOWN_PEER` (no link to that id), `PS_ERR_PEER_UNREACHABLE` (the
   *   link closed before the frame was posted, or could not be re-linked),
   *   `PS_ERR_FRAME_TOO_LARGE` (past `maxFrameBytes`), `PS_ERR_CLOSED`.
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
    let link = this.linkTo(peer);
    if (!link) {
      const reconnect = this.dialed.get(peer)?.reconnect;
      if (!reconnect) {
        throw new PsError(
          PsErrorCode.UNKNOWN_PEER,
          `no link to ${peer}; connect() to it first or wait for it to connect`,
          { peer },
        );
      }
      link = await reconnect;
    }
    const to = link;
    return new Promise<void>((resolve, reject) => {
      to.queue.push({ parts: frame, bytes, resolve, reject });
      this.pump(to);
    });
  }

  private linkTo(peer: NodeId): Link | undefined {
    const d = this.dialed.get(peer)?.link;
    if (d?.open) return d;
    const a = this.accepted.get(peer);
    return a?.open ? a : undefined;
  }

  /** Posts waiting frames while the flow-control window allows (a lone frame always goes). */
  private pump(link: Link): void {
    while (link.open) {
      const head = link.queue[0];
      if (!head) return;
      if (link.inFlight > 0 && link.inFlight + head.bytes > this.maxBytesInFlight) return;
      link.queue.shift();
      const buf = gather(head.parts, head.bytes);
      link.inFlight += head.bytes;
      link.port.postMessage({ t: 'frame', bytes: buf } satisfies OnLink, [buf]);
      head.resolve();
    }
  }

  /**
   * Closes every link (peers emit `disconnected` after the frames already posted) and the hub
   * port; resolves once the hub released this transport's address (so it can be bound again at
   * once), waiting at most 1 s for the hub. `frames$` and `events$` complete. Sends
   * still waiting (for the window or a re-link) reject `PS_ERR_CLOSED`. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    const err = new PsError(PsErrorCode.CLOSED, 'the thread transport was closed');
    for (const r of [...this.requests.values()]) r.reject(err);
    this.requests.clear();
    for (const link of [...this.links]) this.closeLink(link, err);
    if (this.listening && this.hubOpen) {
      // Wait (briefly) for the hub to release the address, so that it can be bound again at once.
      let timer: NodeJS.Timeout | undefined;
      const released = this.ask({ t: 'release', req: this.nextReq++ }).catch(() => undefined);
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, RELEASE_WAIT_MS);
      });
      await Promise.race([released, gaveUp]);
      clearTimeout(timer);
    }
    this.requests.clear();
    this.hubPort.close();
    this.listening = undefined;
    this.dialed.clear();
    this.accepted.clear();
    this.framesSubject.complete();
    this.eventsSubject.complete();
  }

  private ask(msg: ToHub): Promise<FromHub> {
    if (!this.hubOpen) {
      return Promise.reject(
        new PsError(PsErrorCode.PEER_UNREACHABLE, 'the ThreadHub is closed; new binds and connects need it'),
      );
    }
    return new Promise<FromHub>((resolve, reject) => {
      this.requests.set(msg.req, { resolve, reject });
      this.refreshHubRef();
      this.hubPort.postMessage(msg);
    });
  }

  private onHubMessage(msg: FromHub): void {
    if (msg.t === 'accept') {
      this.onAccept(msg.link);
      return;
    }
    const r = this.requests.get(msg.req);
    if (!r) {
      if (msg.t === 'linked') msg.link.close();
      return;
    }
    this.requests.delete(msg.req);
    this.refreshHubRef();
    if (msg.t === 'fail') r.reject(new PsError(msg.code, msg.message));
    else r.resolve(msg);
  }

  private onHubClosed(): void {
    this.hubOpen = false;
    this.listening = undefined;
    const err = new PsError(
      PsErrorCode.PEER_UNREACHABLE,
      'the ThreadHub closed; new binds and connects need it',
    );
    for (const r of [...this.requests.values()]) r.reject(err);
    this.requests.clear();
  }

  /** Keeps the thread alive through the hub port only while listening or waiting for the hub. */
  private refreshHubRef(): void {
    if (this.hubOpen && (this.listening !== undefined || this.requests.size > 0)) this.hubPort.ref();
    else this.hubPort.unref();
  }

  private assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the thread transport is closed');
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
 * Makes a worker-threads transport on a port from {@link ThreadHub.connectPort}:
 * `createWorker({ transport: threads({ port: workerData.port }), ... })`.
 */
export function threads(opts: ThreadTransportOptions): ThreadTransport {
  return new ThreadTransport(opts);
}
