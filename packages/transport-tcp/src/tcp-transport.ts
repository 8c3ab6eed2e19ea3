import net from 'node:net';
import tls from 'node:tls';
import {
  type Admission,
  type BindOptions,
  ClusterSecret,
  ConnectionLimits,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_INBOUND_BUFFER_BYTES,
  DEFAULT_MAX_MESSAGES_PER_SECOND,
  DEFAULT_MAX_QUEUED_BYTES,
  displacedSchedulerImpostor,
  Handshake,
  type HandshakeStep,
  InboundBudget,
  type InboundFrame,
  isTlsAuthError,
  type NodeAddress,
  type NodeId,
  overQueueLimit,
  type PeerAddress,
  PsError,
  PsErrorCode,
  refuseSchedulerImpostor,
  slowPeerError,
  TokenBucket,
  type Transport,
  type TransportEvent,
} from '@ps/core';
import { type Observable, Subject } from 'rxjs';
import { EMPTY_CHUNK, FrameReader } from './frame-reader.js';

/**
 * TLS settings of {@link tcp}: PEM strings or buffers, as `node:tls` takes them. One object
 * serves both ends: a listening node presents `cert` and `key`; a dialing node checks the
 * listener's certificate against `ca` (default: the system's trusted authorities).
 */
export interface TcpTlsOptions {
  /** This node's certificate chain (PEM). Needed to listen. */
  cert?: tls.SecureContextOptions['cert'];
  /** The private key of `cert` (PEM). Needed to listen. */
  key?: tls.SecureContextOptions['key'];
  /** Passphrase of `key`, if it is encrypted. */
  passphrase?: string;
  /** Authorities to trust instead of the system's: a self-signed certificate itself, or your CA. */
  ca?: tls.SecureContextOptions['ca'];
  /**
   * Refuse a peer whose certificate does not verify against `ca` (a dialer checks the listener's;
   * with `requestCert`, a listener checks the dialer's). Default true; false only for tests.
   */
  rejectUnauthorized?: boolean;
  /** Listening side: ask dialers for a certificate too (mutual TLS). Default false. */
  requestCert?: boolean;
  /** Dialing side: the host name the listener's certificate must carry. Default: the host dialed. */
  servername?: string;
}

/** Options of {@link tcp}. */
export interface TcpTransportOptions {
  /** Largest frame accepted or sent, in bytes. Default 512 MiB (as core's codec). */
  maxFrameBytes?: number;
  /** How long `connect` keeps retrying a peer that refuses, in ms. Default 30,000. */
  connectTimeoutMs?: number;
  /** How long a dropped outgoing connection is retried before sends fail, in ms. Default 10,000. */
  reconnectWindowMs?: number;
  /**
   * How long a new connection has to complete its handshake (the TLS handshake, the hellos and,
   * with a secret, the proofs), in ms. Default 5,000 (`DEFAULT_HANDSHAKE_TIMEOUT_MS`).
   */
  helloTimeoutMs?: number;
  /**
   * The cluster secret (at least 16 bytes; every node of the cluster needs the same one). With
   * it, every connection authenticates at the handshake by HMAC challenge and response; the
   * secret never travels. Without it (the default) connections are not authenticated.
   * @see ClusterSecret in `@ps/core`
   */
  secret?: string | Uint8Array | ClusterSecret;
  /** Speak TLS (`node:tls`) on every connection, listening and dialing. Default: plain TCP. */
  tls?: TcpTlsOptions;
  /**
   * Most messages a peer may send per second on one connection, once its handshake is done
   * (a token bucket holding one second's worth). A peer going faster is disconnected with
   * `PS_ERR_RATE_LIMIT`. Default 100,000; `Infinity` turns the limit off.
   */
  maxMessagesPerSecond?: number;
  /**
   * Most accepted connections that may be waiting for their handshake at once; further ones
   * are closed at once (`PS_ERR_RATE_LIMIT`, logged once per episode). Default 128.
   */
  maxPendingHandshakes?: number;
  /**
   * Of those, most from one remote address; further ones from that address are closed at once
   * (`PS_ERR_RATE_LIMIT`), so a flood from one address leaves places for nodes elsewhere.
   * Default 16.
   */
  maxPendingHandshakesPerSource?: number;
  /**
   * Most accepted connections open at once (waiting for their handshake or authenticated);
   * further ones are closed at once (`PS_ERR_CONNECTION_LIMIT`, logged once per episode).
   * Default 1,024.
   */
  maxConnections?: number;
  /**
   * Most bytes of partly received frames this node holds at once, over all its connections, in
   * bytes. A frame above 64 KiB claims its whole length when its length prefix arrives; when the
   * bytes are not free, that connection is not read (the kernel's window holds the peer) until
   * they are. A frame larger than the whole budget closes its connection
   * (`PS_ERR_INBOUND_BUDGET`). Default 256 MiB.
   */
  maxInboundBufferBytes?: number;
  /**
   * Most bytes queued for sending on one connection (frames waiting for the socket, and bytes it
   * has not handed to the kernel). On an accepted connection, a peer that does not read is
   * disconnected at this limit (`PS_ERR_SLOW_PEER`: the send rejects, so do the frames queued);
   * on a dialed one, the send that would pass it is refused (`PS_ERR_SLOW_PEER`) and the
   * connection stays. Default 256 MiB.
   */
  maxQueuedBytes?: number;
}

interface QueuedFrame {
  parts: readonly Uint8Array[];
  len: number;
  resolve: () => void;
  reject: (e: PsError) => void;
}

interface Conn {
  socket: net.Socket;
  /** The peer's id, set once the handshake completed (frames flow from then on). */
  peer: NodeId | undefined;
  reader: FrameReader;
  outgoing: boolean;
  /** Frames waiting for the socket to drain, in send order. */
  queue: QueuedFrame[];
  /** Bytes of the frames in `queue`. */
  queuedBytes: number;
  /** Why this node closed the connection, when it did for a limit (queued sends reject with it). */
  closeError: PsError | undefined;
  handshake: Handshake;
  /** Set once the connection was refused (its error reported); later input is ignored. */
  failed: boolean;
  /** Set once the first bytes arrived (they are checked for a TLS record on a plain transport). */
  seen: boolean;
  /** This connection's message-rate limit, once open. */
  limiter: TokenBucket | undefined;
  /** Replays the bytes kept while a frame waited for budget, and reads the socket again. */
  resumeRead?: () => void;
}

interface Dialed {
  address: PeerAddress;
  conn: Conn | undefined;
  /** Sends waiting for a reconnect. */
  waiters: { resolve: (c: Conn) => void; reject: (e: PsError) => void }[];
  reconnecting: boolean;
}

/** Largest frame accepted before a connection's handshake is done (handshake frames are under 200 bytes). */
export const HELLO_MAX_BYTES = 4096;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TLS record holding a fatal handshake_failure alert: what a plain listener answers a TLS dialer. */
const TLS_HANDSHAKE_FAILURE_ALERT = Uint8Array.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);

/** True when a connection's first bytes are a TLS record (a handshake or an alert). */
function looksLikeTls(chunk: Uint8Array): boolean {
  return chunk.length >= 3 && (chunk[0] === 0x16 || chunk[0] === 0x15) && chunk[1] === 0x03 && chunk[2]! <= 4;
}

/** The message of a PsError without its code prefix. */
const bare = (e: PsError) => e.message.slice(e.code.length + 2);

/**
 * The TCP transport (`node:net`, or `node:tls` with the `tls` option): frames are a u32
 * little-endian length and the frame's bytes; the first frames each way are core's handshake
 * (`Handshake`: the hellos and, with a cluster secret, the HMAC proofs). Writes are corked so a
 * frame's parts leave in one `writev` without being copied together; a send resolves once the
 * kernel took the bytes, which is also how backpressure reaches the caller. Outgoing
 * connections reconnect with backoff when dropped; sends made meanwhile wait for the reconnect
 * (up to `reconnectWindowMs`). Bad input (an oversized length, a bad or unauthenticated
 * handshake, a peer over its message rate) closes only the connection it came on.
 */
export class TcpTransport implements Transport {
  readonly kind = 'tcp';
  private readonly framesSubject = new Subject<InboundFrame>();
  private readonly eventsSubject = new Subject<TransportEvent>();
  readonly frames$: Observable<InboundFrame> = this.framesSubject.asObservable();
  readonly events$: Observable<TransportEvent> = this.eventsSubject.asObservable();

  private self: NodeId | undefined;
  private server: net.Server | undefined;
  private readonly accepted = new Map<NodeId, Conn>();
  private readonly dialed = new Map<NodeId, Dialed>();
  private readonly sockets = new Set<net.Socket>();
  private closed = false;
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectWindowMs: number;
  private readonly helloTimeoutMs: number;
  private readonly secret: ClusterSecret | undefined;
  /** The secret this transport authenticates with (per-role secrets: which role each peer proved). */
  get credentials(): ClusterSecret | undefined {
    return this.secret;
  }
  private readonly tls: TcpTlsOptions | undefined;
  private readonly maxMessagesPerSecond: number;
  /** `maxConnections` and the pending-handshake limits of accepted connections. */
  private readonly limits: ConnectionLimits;
  /** Each accepted connection's place in `limits`, by its remote address and port. */
  private readonly admissions = new Map<string, Admission>();
  /** `maxInboundBufferBytes`: the partial frames of every connection. */
  private readonly budget: InboundBudget;
  private readonly maxQueuedBytes: number;

  /**
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes, or limits that are not
   *   positive numbers.
   */
  constructor(opts: TcpTransportOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
    this.reconnectWindowMs = opts.reconnectWindowMs ?? 10_000;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.secret = ClusterSecret.from(opts.secret);
    this.tls = opts.tls;
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
  }

  /**
   * Sets this node's id and (unless `listen: false`) listens at `self.host:self.port`; with the
   * `tls` option it listens for TLS.
   * @throws PsError `PS_ERR_BIND` when the address cannot be bound, `PS_ERR_CONFIG` when `tls`
   *   lacks `cert` or `key` (or they do not load).
   */
  async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    this.assertOpen();
    this.self = self.id;
    if (options.listen === false) return { ...self, port: 0 };
    const server = this.tls ? this.tlsServer() : net.createServer();
    server.on(this.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => this.onAccept(socket));
    // Every TCP connection, before TLS: refused at once while too many wait for their handshake.
    server.prependListener('connection', (raw: net.Socket) => this.admitRaw(raw));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new PsError(
            PsErrorCode.BIND,
            `cannot listen on ${self.host}:${self.port}: ${err.message}`,
            undefined,
            { cause: err },
          ),
        ),
      );
      server.listen(self.port, self.host, () => resolve());
    });
    server.on('error', (err) =>
      this.emitError(new PsError(PsErrorCode.BIND, `listener error: ${err.message}`)),
    );
    const addr = server.address() as net.AddressInfo;
    return { id: self.id, host: self.host, port: addr.port };
  }

  private tlsServer(): tls.Server {
    const o = this.tls!;
    if (o.cert === undefined || o.key === undefined) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'a TLS transport that listens needs tls.cert and tls.key (PEM); a worker that only dials needs neither',
      );
    }
    let server: tls.Server;
    try {
      server = tls.createServer({
        cert: o.cert,
        key: o.key,
        ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
        ...(o.ca !== undefined ? { ca: o.ca } : {}),
        requestCert: o.requestCert ?? false,
        rejectUnauthorized: o.requestCert ? (o.rejectUnauthorized ?? true) : false,
        handshakeTimeout: this.helloTimeoutMs,
      });
    } catch (err) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `cannot load the TLS certificate or key: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      socket.destroy(); // with a listener for this event, closing the socket is ours to do
      if (err.code === 'ECONNRESET' || this.closed) return; // the peer went away, or we refused it
      const where = `${socket.remoteAddress}:${socket.remotePort}`;
      const timeout = /timeout/i.test(err.message);
      this.emitError(
        new PsError(
          timeout ? PsErrorCode.HANDSHAKE : PsErrorCode.AUTH,
          timeout
            ? `connection from ${where} did not complete its TLS handshake within ${this.helloTimeoutMs} ms; closed`
            : `TLS handshake with ${where} failed (${err.message}); a plain or untrusted peer? closed`,
        ),
      );
    });
    return server;
  }

  /**
   * Counts an accepted TCP connection; refuses it past `maxConnections`, or while too many (in
   * all, or from its address) wait for their handshake.
   */
  private admitRaw(raw: net.Socket): void {
    if (this.closed) {
      raw.destroy();
      return;
    }
    const r = this.limits.accept(raw.remoteAddress ?? 'unknown');
    if (!r.accepted) {
      raw.destroy();
      if (r.report) this.emitError(r.report);
      return;
    }
    const key = admissionKey(raw);
    this.admissions.set(key, r.admission);
    raw.once('close', () => {
      r.admission.closed();
      if (this.admissions.get(key) === r.admission) this.admissions.delete(key);
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the TCP transport is closed');
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

  private track(socket: net.Socket, outgoing: boolean): Conn {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const self = this.requireSelf();
    const conn: Conn = {
      socket,
      peer: undefined,
      reader: new FrameReader(HELLO_MAX_BYTES),
      outgoing,
      queue: [],
      queuedBytes: 0,
      closeError: undefined,
      handshake: new Handshake({
        side: outgoing ? 'dial' : 'accept',
        self,
        secret: this.secret,
        admit: outgoing ? undefined : (peer) => refuseSchedulerImpostor(peer, this.dialed),
      }),
      failed: false,
      seen: false,
      limiter: undefined,
    };
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn.reader.dispose();
      const err =
        conn.closeError ??
        new PsError(
          PsErrorCode.PEER_UNREACHABLE,
          `connection to ${conn.peer ?? 'peer'} closed before a queued frame was written`,
        );
      conn.queuedBytes = 0;
      for (const q of conn.queue.splice(0)) q.reject(err);
    });
    socket.on('error', () => undefined); // 'close' follows; errors surface through it
    return conn;
  }

  /**
   * Reads frames off a socket: until the handshake is done they go to the connection's
   * `Handshake` (and are limited to {@link HELLO_MAX_BYTES}, so that a peer that has not proven
   * who it is cannot make this node allocate a large frame buffer); then to frames$, within the
   * connection's message rate. `onOpen` runs when the handshake completes; `onFail` (before the
   * socket is closed) with the error that refused the connection.
   */
  private read(conn: Conn, onOpen: (peer: NodeId) => void, onFail: (e: PsError) => void): void {
    const feed = (chunk: Uint8Array) => {
      if (conn.failed) return;
      try {
        if (!conn.seen) {
          conn.seen = true;
          if (!this.tls && looksLikeTls(chunk)) {
            conn.failed = true;
            onFail(
              new PsError(
                PsErrorCode.HANDSHAKE,
                'the peer speaks TLS and this transport does not; give every node the same tls options',
              ),
            );
            // A TLS dialer gets a fatal alert, so it fails at once instead of retrying.
            if (!conn.outgoing && chunk[0] === 0x16) conn.socket.end(TLS_HANDSHAKE_FAILURE_ALERT);
            setTimeout(() => conn.socket.destroy(), 1000).unref();
            return;
          }
        }
        conn.reader.push(chunk, (frame) => {
          if (conn.failed) return;
          if (conn.peer !== undefined) {
            if (conn.limiter !== undefined && !conn.limiter.take()) {
              throw new PsError(
                PsErrorCode.RATE_LIMIT,
                `${conn.peer} sent more than ${this.maxMessagesPerSecond} messages a second (maxMessagesPerSecond); connection closed`,
                { peer: conn.peer },
              );
            }
            this.framesSubject.next({ from: conn.peer, frame });
            return;
          }
          const step = conn.handshake.receive(frame);
          if (step instanceof Promise) void step.then((s) => this.applyStep(conn, s, onOpen, onFail));
          else this.applyStep(conn, step, onOpen, onFail);
        });
      } catch (err) {
        if (conn.failed) return;
        conn.failed = true;
        onFail(err instanceof PsError ? err : new PsError(PsErrorCode.FRAME_MALFORMED, String(err)));
        conn.socket.destroy();
      }
    };
    conn.socket.on('data', feed);
    // After the handshake, a frame above 64 KiB waits for the node's inbound budget: the socket is
    // not read meanwhile, and once the budget grants it (off the releasing connection's stack),
    // the bytes kept are replayed and reading resumes.
    conn.resumeRead = () =>
      setImmediate(() => {
        if (conn.failed || conn.socket.destroyed) return;
        feed(EMPTY_CHUNK);
        if (!conn.reader.paused) conn.socket.resume();
      });
  }

  /** Acts on a handshake step: sends its frame, then opens the connection or refuses it. */
  private applyStep(
    conn: Conn,
    step: HandshakeStep,
    onOpen: (peer: NodeId) => void,
    onFail: (e: PsError) => void,
  ): void {
    if (conn.failed || conn.socket.destroyed) return;
    if (step.send) this.writeFrame(conn, [step.send]).catch(() => undefined);
    if (step.error) {
      conn.failed = true;
      onFail(step.error);
      if (step.send) {
        // Let the error frame leave, then close; a peer that does not close its end is cut off.
        conn.socket.end();
        setTimeout(() => conn.socket.destroy(), 1000).unref();
      } else conn.socket.destroy();
      return;
    }
    if (step.peer !== undefined) {
      conn.peer = step.peer;
      conn.reader.maxFrameBytes = this.maxFrameBytes;
      conn.reader.useBudget({
        budget: this.budget,
        pause: () => conn.socket.pause(),
        granted: () => conn.resumeRead?.(),
      });
      if (this.maxMessagesPerSecond !== Number.POSITIVE_INFINITY) {
        conn.limiter = new TokenBucket(this.maxMessagesPerSecond);
      }
      onOpen(step.peer);
    }
  }

  private onAccept(socket: net.Socket): void {
    if (socket.destroyed) return; // refused by admitRaw
    if (this.closed) {
      socket.destroy();
      return;
    }
    const where = `${socket.remoteAddress}:${socket.remotePort}`;
    const admission = this.admissions.get(admissionKey(socket));
    const conn = this.track(socket, false);
    const timer = setTimeout(() => {
      if (conn.failed) return;
      conn.failed = true;
      this.emitError(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `connection from ${where} did not complete its handshake within ${this.helloTimeoutMs} ms; closed`,
        ),
      );
      socket.destroy();
    }, this.helloTimeoutMs);
    timer.unref();
    this.read(
      conn,
      (peer) => {
        clearTimeout(timer);
        admission?.authenticated();
        const old = this.accepted.get(peer);
        if (old && old.socket !== socket) old.socket.destroy();
        this.accepted.set(peer, conn);
        this.eventsSubject.next({ type: 'connected', peer });
      },
      (e) => {
        clearTimeout(timer);
        this.emitError(
          new PsError(e.code, `connection from ${where}: ${bare(e)}`, e.details as Record<string, unknown>),
          conn.peer,
        );
      },
    );
    socket.on('close', () => {
      clearTimeout(timer);
      const partial = conn.reader.partialBytes;
      if (partial > 0 && !this.closed && !conn.failed) {
        this.emitError(
          new PsError(
            PsErrorCode.FRAME_TRUNCATED,
            `connection closed ${partial} bytes into a frame; the partial frame was dropped`,
          ),
          conn.peer,
        );
      }
      if (conn.peer !== undefined && this.accepted.get(conn.peer) === conn) {
        this.accepted.delete(conn.peer);
        if (!this.closed) this.eventsSubject.next({ type: 'disconnected', peer: conn.peer });
      }
    });
  }

  /** Opens a socket (TLS with the `tls` option) to `address`. */
  private openSocket(address: PeerAddress): { socket: net.Socket; ready: 'connect' | 'secureConnect' } {
    const o = this.tls;
    if (!o) return { socket: net.connect({ host: address.host, port: address.port }), ready: 'connect' };
    const socket = tls.connect({
      host: address.host,
      port: address.port,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.cert !== undefined ? { cert: o.cert } : {}),
      ...(o.key !== undefined ? { key: o.key } : {}),
      ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
      ...(o.servername !== undefined ? { servername: o.servername } : {}),
      rejectUnauthorized: o.rejectUnauthorized ?? true,
    });
    return { socket, ready: 'secureConnect' };
  }

  /** Opens one socket and completes the handshake; rejects on refusal or a failed handshake. */
  private dial(address: PeerAddress): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      const where = `${address.host}:${address.port}`;
      let opened: { socket: net.Socket; ready: 'connect' | 'secureConnect' };
      try {
        opened = this.openSocket(address);
      } catch (err) {
        reject(
          new PsError(
            PsErrorCode.CONFIG,
            `cannot set up TLS to ${where}: ${(err as Error).message}`,
            undefined,
            {
              cause: err,
            },
          ),
        );
        return;
      }
      const { socket, ready } = opened;
      const conn = this.track(socket, true);
      let settled = false;
      const fail = (err: PsError, destroy = true) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        if (destroy) socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new PsError(
              PsErrorCode.HANDSHAKE,
              `${where} did not complete the handshake within ${this.helloTimeoutMs} ms`,
            ),
          ),
        this.helloTimeoutMs,
      );
      timer.unref();
      socket.once(ready, () => {
        this.writeFrame(conn, [conn.handshake.start()]).catch(() => undefined);
      });
      socket.once('close', () => {
        fail(
          new PsError(
            PsErrorCode.PEER_UNREACHABLE,
            `connection to ${where} closed before its handshake completed${this.tls ? '' : ' (a TLS port? then give this transport the tls options of the cluster)'}`,
          ),
        );
      });
      socket.once('error', (err) => {
        fail(
          isTlsAuthError(err)
            ? new PsError(
                PsErrorCode.AUTH,
                `TLS with ${where} failed (an untrusted certificate, or a peer without TLS): ${err.message}`,
                undefined,
                { cause: err },
              )
            : new PsError(PsErrorCode.PEER_UNREACHABLE, `cannot connect to ${where}: ${err.message}`),
        );
      });
      this.read(
        conn,
        () => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          resolve(conn);
        },
        (e) => {
          if (settled) {
            this.emitError(e, conn.peer);
            return;
          }
          // The socket is closed by whoever refused (after an error frame, if there is one).
          const said = e.code === PsErrorCode.AUTH || e.details?.remote === true;
          fail(
            said || e.code === PsErrorCode.RATE_LIMIT
              ? new PsError(e.code, `${where}: ${bare(e)}`)
              : new PsError(PsErrorCode.HANDSHAKE, `${where} is not a @ps node of this version: ${bare(e)}`),
            false,
          );
        },
      );
    });
  }

  /** Dials until it succeeds or `windowMs` passes, with exponential backoff (20 ms to 1 s). */
  private async dialWithRetry(address: PeerAddress, windowMs: number): Promise<Conn> {
    const deadline = Date.now() + windowMs;
    let delay = 20;
    let last: PsError | undefined;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the TCP transport is closed');
      try {
        return await this.dial(address);
      } catch (err) {
        last = err as PsError;
        if (last.code !== PsErrorCode.PEER_UNREACHABLE || Date.now() + delay > deadline) break;
        await sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
    if (last && last.code !== PsErrorCode.PEER_UNREACHABLE) throw last;
    throw new PsError(
      PsErrorCode.PEER_UNREACHABLE,
      `${address.host}:${address.port} unreachable for ${windowMs} ms: ${last?.message ?? 'no attempt'}`,
    );
  }

  async connect(peer: PeerAddress): Promise<NodeId> {
    this.assertOpen();
    this.requireSelf();
    for (const [id, d] of this.dialed) {
      if (d.address.host === peer.host && d.address.port === peer.port && d.conn) return id;
    }
    const conn = await this.dialWithRetry(peer, this.connectTimeoutMs);
    const id = conn.peer!;
    const prev = this.dialed.get(id);
    if (prev?.conn && prev.conn !== conn) prev.conn.socket.destroy();
    const d: Dialed = { address: peer, conn, waiters: [], reconnecting: false };
    this.dialed.set(id, d);
    this.dropImpostor(id);
    this.watch(id, d, conn);
    this.eventsSubject.next({ type: 'connected', peer: id });
    return id;
  }

  /** Closes an accepted connection that claimed the id of the scheduler, which this transport now dials. */
  private dropImpostor(id: NodeId): void {
    const err = displacedSchedulerImpostor(id);
    const a = this.accepted.get(id);
    if (!err || !a) return;
    this.accepted.delete(id);
    a.socket.destroy();
    this.emitError(err);
  }

  /** Reconnects a dialed peer when its socket drops (unless we are closing). */
  private watch(id: NodeId, d: Dialed, conn: Conn): void {
    conn.socket.once('close', () => {
      if (d.conn !== conn || this.closed) return;
      d.conn = undefined;
      this.eventsSubject.next({ type: 'disconnected', peer: id });
      void this.reconnect(id, d);
    });
  }

  private async reconnect(id: NodeId, d: Dialed): Promise<void> {
    if (d.reconnecting) return;
    d.reconnecting = true;
    try {
      const conn = await this.dialWithRetry(d.address, this.reconnectWindowMs);
      if (this.closed) {
        conn.socket.destroy();
        return;
      }
      d.conn = conn;
      this.watch(id, d, conn);
      this.eventsSubject.next({ type: 'connected', peer: id });
      for (const w of d.waiters.splice(0)) w.resolve(conn);
    } catch (err) {
      const e = new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `lost connection to ${id} and could not reconnect: ${(err as Error).message}`,
      );
      for (const w of d.waiters.splice(0)) w.reject(e);
      if (this.dialed.get(id) === d) this.dialed.delete(id);
      this.emitError(e, id);
    } finally {
      d.reconnecting = false;
    }
  }

  private connFor(peer: NodeId): Conn | Promise<Conn> {
    const d = this.dialed.get(peer);
    if (d?.conn && !d.conn.socket.destroyed) return d.conn;
    const a = this.accepted.get(peer);
    if (a && !a.socket.destroyed) return a;
    if (d) return new Promise<Conn>((resolve, reject) => d.waiters.push({ resolve, reject }));
    throw new PsError(
      PsErrorCode.UNKNOWN_PEER,
      `no connection to ${peer}; connect() to it first or wait for it to connect`,
      { peer },
    );
  }

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
    const c = this.connFor(peer);
    const conn = c instanceof Promise ? await c : c;
    return this.writeFrame(conn, frame, total);
  }

  /**
   * Queues a frame behind earlier ones while the socket's buffer is above its high-water mark
   * (`write()` returned false), and writes it once `'drain'` comes; resolves once the kernel took
   * the frame's last byte. So a sender that does not await its sends still cannot grow the
   * buffer past the high-water mark plus one frame.
   */
  private writeFrame(conn: Conn, parts: readonly Uint8Array[], total?: number): Promise<void> {
    const { socket } = conn;
    if (conn.closeError) return Promise.reject(conn.closeError);
    if (socket.destroyed || !socket.writable) {
      return Promise.reject(
        new PsError(PsErrorCode.PEER_UNREACHABLE, `connection to ${conn.peer ?? 'peer'} is closed`),
      );
    }
    let len = total ?? 0;
    if (total === undefined) for (const p of parts) len += p.byteLength;
    const queued = conn.queuedBytes + socket.writableLength;
    if (overQueueLimit(queued, len, this.maxQueuedBytes)) {
      // Our own requests outran a peer we dialed: refuse this one; answers to a peer that does not
      // read them: drop the connection.
      if (conn.outgoing) {
        return Promise.reject(slowPeerError(conn.peer ?? 'peer', queued, this.maxQueuedBytes, false));
      }
      return Promise.reject(this.dropSlowPeer(conn, queued));
    }
    return new Promise<void>((resolve, reject) => {
      const item: QueuedFrame = { parts, len, resolve, reject };
      if (conn.queue.length > 0 || socket.writableNeedDrain) {
        conn.queue.push(item);
        conn.queuedBytes += len;
        if (conn.queue.length === 1) socket.once('drain', () => this.flush(conn));
        return;
      }
      this.writeNow(conn, item);
    });
  }

  /**
   * Closes a connection whose peer does not read (`maxQueuedBytes`): reports it, and returns the
   * `PS_ERR_SLOW_PEER` its queued sends reject with.
   */
  private dropSlowPeer(conn: Conn, queued: number): PsError {
    if (conn.closeError) return conn.closeError;
    const who = conn.peer ?? `${conn.socket.remoteAddress}:${conn.socket.remotePort}`;
    const err = slowPeerError(who, queued, this.maxQueuedBytes);
    conn.closeError = err;
    conn.failed = true;
    this.emitError(err, conn.peer);
    // A reset frees both ends' buffers at once (a FIN would wait behind what the peer does not read).
    try {
      conn.socket.resetAndDestroy();
    } catch {
      conn.socket.destroy(); // a TLS socket cannot be reset
    }
    return err;
  }

  private flush(conn: Conn): void {
    while (conn.queue.length > 0 && !conn.socket.writableNeedDrain && !conn.socket.destroyed) {
      const item = conn.queue.shift()!;
      conn.queuedBytes -= item.len;
      this.writeNow(conn, item);
    }
    if (conn.queue.length > 0 && !conn.socket.destroyed) conn.socket.once('drain', () => this.flush(conn));
  }

  /** Writes the length prefix and the parts corked, so they leave in one writev without a copy. */
  private writeNow(conn: Conn, { parts, len, resolve, reject }: QueuedFrame): void {
    const { socket } = conn;
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeUInt32LE(len, 0);
    const done = (err?: Error | null) => {
      if (err)
        reject(
          conn.closeError ??
            new PsError(
              PsErrorCode.PEER_UNREACHABLE,
              `write to ${conn.peer ?? 'peer'} failed: ${err.message}`,
            ),
        );
      else resolve();
    };
    socket.cork();
    if (parts.length === 0) socket.write(prefix, done);
    else socket.write(prefix);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      const buf = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
      if (i < parts.length - 1) socket.write(buf);
      else socket.write(buf, done);
    }
    socket.uncork();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new PsError(PsErrorCode.CLOSED, 'the TCP transport was closed');
    for (const d of this.dialed.values()) for (const w of d.waiters.splice(0)) w.reject(err);
    const ends = [...this.sockets].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', () => resolve());
          s.end();
          setTimeout(() => s.destroy(), 1000).unref();
        }),
    );
    const server = this.server;
    const stopped = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    await Promise.all([...ends, stopped]);
    this.accepted.clear();
    this.dialed.clear();
    this.framesSubject.complete();
    this.eventsSubject.complete();
  }
}

/** The key of an accepted socket in `admissions`: the raw and the TLS socket report the same. */
function admissionKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** Makes a TCP transport: `createWorker({ transport: tcp(), ... })`. */
export function tcp(opts: TcpTransportOptions = {}): TcpTransport {
  return new TcpTransport(opts);
}
