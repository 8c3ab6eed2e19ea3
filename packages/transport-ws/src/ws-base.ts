/**
 * The platform-neutral part of the WebSocket transports: handshake, connection bookkeeping,
 * reconnects, the send queue and its backpressure. It imports only '@ps/core' and 'rxjs' (no
 * Node module, no `Buffer`), so the browser entry can use it; the Node transport (`ws`) and the
 * browser transport (platform `WebSocket`) differ only in how a socket is opened and written.
 */
import {
  type Admission,
  type BindOptions,
  ClusterSecret,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_MESSAGES_PER_SECOND,
  DEFAULT_MAX_QUEUED_BYTES,
  displacedSchedulerImpostor,
  Handshake,
  type HandshakeStep,
  type InboundFrame,
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

/** Options shared by the Node and browser WebSocket transports. */
export interface WsBaseOptions {
  /** Largest frame (one WebSocket message) accepted or sent, in bytes. Default 512 MiB (as core's codec). */
  maxFrameBytes?: number;
  /** How long `connect` keeps retrying a peer that refuses, in ms. Default 30,000. */
  connectTimeoutMs?: number;
  /** How long a dropped outgoing connection is retried before sends fail, in ms. Default 10,000. */
  reconnectWindowMs?: number;
  /**
   * How long a new connection has to complete its handshake (the hellos and, with a secret,
   * the proofs), in ms. Default 5,000 (`DEFAULT_HANDSHAKE_TIMEOUT_MS`).
   */
  helloTimeoutMs?: number;
  /**
   * The cluster secret (at least 16 bytes; every node of the cluster needs the same one). With
   * it, every connection authenticates at the handshake by HMAC challenge and response, on
   * WebCrypto (in a browser: secure contexts only); the secret never travels. Without it (the
   * default) connections are not authenticated.
   */
  secret?: string | Uint8Array | ClusterSecret;
  /**
   * Most messages a peer may send per second on one connection, once its handshake is done (a
   * token bucket holding one second's worth). A peer going faster is disconnected with
   * `PS_ERR_RATE_LIMIT`. Default 100,000; `Infinity` turns the limit off.
   */
  maxMessagesPerSecond?: number;
  /**
   * Sends wait while the socket's `bufferedAmount` is above this many bytes. Default 1 MiB. At
   * most this plus one frame is buffered per connection; further frames wait in the send queue.
   */
  highWaterMarkBytes?: number;
  /**
   * Most bytes queued for sending on one connection (frames in the send queue, and the socket's
   * `bufferedAmount`). On an accepted connection, a peer that does not read is disconnected at
   * this limit (`PS_ERR_SLOW_PEER`: the send rejects, so do the frames queued); on a dialed one,
   * the send that would pass it is refused (`PS_ERR_SLOW_PEER`) and the connection stays.
   * Default 256 MiB.
   */
  maxQueuedBytes?: number;
  /** Path of the WebSocket endpoint (the URL is `ws://host:port<path>`). Default `/`. */
  path?: string;
}

/** Largest message accepted before a connection's hello (a hello is well under 200 bytes). */
export const HELLO_MAX_BYTES = 4096;

/** Longest interval between two `bufferedAmount` polls while a send waits, in ms. */
export const MAX_POLL_INTERVAL_MS = 50;

/** WebSocket close codes used when this node closes a connection. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
} as const;

/** What the transports need of a socket: `ws`'s `WebSocket` or the platform one, adapted. */
export interface SocketAdapter {
  /** Bytes handed to the socket and not yet sent. */
  readonly bufferedAmount: number;
  /** True while the socket is OPEN (sends are possible). */
  readonly isOpen: boolean;
  /** True once the socket is CLOSED. */
  readonly isClosed: boolean;
  /**
   * Sends the parts as one binary message; `done` runs once the message was handed to the OS
   * (Node) or to the browser, or with an error when it could not be sent.
   */
  send(parts: readonly Uint8Array[], total: number, done: (err?: Error) => void): void;
  /** Starts a clean close (close frame); the 'close' callback follows. */
  close(code: number, reason: string): void;
  /** Drops the connection at once (where the platform can; a browser falls back to `close`). */
  terminate(): void;
  /** Lowers or raises the largest message the socket accepts, where the platform can. */
  setMaxPayload?(bytes: number): void;
}

/** Callbacks a socket adapter reports to. */
export interface SocketHandlers {
  /** The opening handshake completed (client sockets only; accepted sockets start open). */
  open(): void;
  /** One message: its bytes, or `undefined` for a text message (refused). */
  message(data: Uint8Array | undefined): void;
  /** Something went wrong: bad input, or (before `open`) the connection failed. */
  error(err: PsError): void;
  /** The socket closed; no callback follows. */
  close(): void;
}

interface QueuedFrame {
  parts: readonly Uint8Array[];
  len: number;
  resolve: () => void;
  reject: (e: PsError) => void;
}

/** One WebSocket connection, accepted or dialed. */
export interface Conn {
  socket: SocketAdapter;
  peer: NodeId | undefined;
  outgoing: boolean;
  /** Frames waiting for `bufferedAmount` to fall below the high-water mark, in send order. */
  queue: QueuedFrame[];
  /** Bytes of the frames in `queue`. */
  queuedBytes: number;
  /** Why this node closed the connection, when it did for a limit (queued sends reject with it). */
  closeError: PsError | undefined;
  /** Poll timer armed while the queue waits; its interval grows up to {@link MAX_POLL_INTERVAL_MS}. */
  poll: ReturnType<typeof setTimeout> | undefined;
  pollMs: number;
  /** Set while `flush` runs (a browser socket reports sends synchronously, which re-enters it). */
  flushing: boolean;
  /** Resolves once the socket closed. */
  closed: Promise<void>;
  /** Set once the 'close' callback ran. */
  isClosed: boolean;
  /** Set once the connection was refused for bad input (the error was reported). */
  refused: boolean;
  onClose: (() => void)[];
  handshake: Handshake;
  /** This connection's message-rate limit, once open. */
  limiter: TokenBucket | undefined;
}

interface Dialed {
  address: PeerAddress;
  conn: Conn | undefined;
  /** Sends waiting for a reconnect. */
  waiters: { resolve: (c: Conn) => void; reject: (e: PsError) => void }[];
  reconnecting: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lets a timer not keep Node alive (a no-op in a browser). */
export function unref(t: ReturnType<typeof setTimeout>): void {
  (t as unknown as { unref?: () => void }).unref?.();
}

const utf8 = new TextEncoder();

/** A close reason cut to the 123 bytes a close frame can carry. */
export function closeReason(reason: string): string {
  let r = reason.length > 123 ? reason.slice(0, 123) : reason;
  while (utf8.encode(r).byteLength > 123) r = r.slice(0, -1);
  return r;
}

/** `ws://host:port/path` (or `wss://`), with IPv6 hosts in brackets. */
export function wsUrl(address: PeerAddress, path: string, scheme: 'ws' | 'wss' = 'ws'): string {
  const host =
    address.host.includes(':') && !address.host.startsWith('[') ? `[${address.host}]` : address.host;
  return `${scheme}://${host}:${address.port}${path.startsWith('/') ? path : `/${path}`}`;
}

/** The message of a PsError without its code prefix. */
const bare = (e: PsError) => e.message.slice(e.code.length + 2);

/**
 * The shared core of {@link WsTransport} and {@link BrowserWsTransport}: the hello is the first
 * message each way; every other message is one frame; anything else (text, a non-hello first
 * message, an oversized message) closes only the connection it came on, reported on `events$`.
 */
export abstract class WsTransportBase implements Transport {
  abstract readonly kind: string;
  protected readonly framesSubject = new Subject<InboundFrame>();
  protected readonly eventsSubject = new Subject<TransportEvent>();
  readonly frames$: Observable<InboundFrame> = this.framesSubject.asObservable();
  readonly events$: Observable<TransportEvent> = this.eventsSubject.asObservable();

  protected self: NodeId | undefined;
  protected readonly accepted = new Map<NodeId, Conn>();
  private readonly dialed = new Map<NodeId, Dialed>();
  protected readonly conns = new Set<Conn>();
  protected closed = false;
  protected readonly maxFrameBytes: number;
  protected readonly connectTimeoutMs: number;
  protected readonly reconnectWindowMs: number;
  protected readonly helloTimeoutMs: number;
  protected readonly highWaterMarkBytes: number;
  protected readonly path: string;
  protected readonly secret: ClusterSecret | undefined;
  /** The secret this transport authenticates with (per-role secrets: which role each peer proved). */
  get credentials(): ClusterSecret | undefined {
    return this.secret;
  }
  protected readonly maxMessagesPerSecond: number;
  protected readonly maxQueuedBytes: number;

  /**
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes (or no WebCrypto), or
   *   limits that are not positive numbers.
   */
  constructor(opts: WsBaseOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
    this.reconnectWindowMs = opts.reconnectWindowMs ?? 10_000;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.highWaterMarkBytes = opts.highWaterMarkBytes ?? 1024 * 1024;
    this.path = opts.path ?? '/';
    this.secret = ClusterSecret.from(opts.secret);
    this.maxMessagesPerSecond = opts.maxMessagesPerSecond ?? DEFAULT_MAX_MESSAGES_PER_SECOND;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (
      !(this.maxFrameBytes > 0) ||
      !(this.maxQueuedBytes > 0) ||
      !(this.highWaterMarkBytes >= 0) ||
      !(this.maxMessagesPerSecond > 0) ||
      !(this.helloTimeoutMs > 0)
    ) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'maxFrameBytes, maxMessagesPerSecond, maxQueuedBytes and helloTimeoutMs must be > 0 and highWaterMarkBytes >= 0',
      );
    }
  }

  /** `wss` when this transport speaks TLS, else `ws`. */
  protected get scheme(): 'ws' | 'wss' {
    return 'ws';
  }

  abstract bind(self: NodeAddress, options?: BindOptions): Promise<NodeAddress>;

  /** Opens a client socket to `url`; the adapter reports to `handlers`. */
  protected abstract openSocket(url: string, handlers: SocketHandlers): SocketAdapter;

  protected assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport is closed`);
  }

  protected emitError(error: PsError, peer?: NodeId): void {
    if (!this.closed)
      this.eventsSubject.next(peer === undefined ? { type: 'error', error } : { type: 'error', error, peer });
  }

  protected requireSelf(): NodeId {
    if (this.self === undefined) {
      throw new PsError(PsErrorCode.CONFIG, 'bind() the transport (it sets the node id) before connecting');
    }
    return this.self;
  }

  private newConn(socket: SocketAdapter | undefined, outgoing: boolean): Conn {
    let done!: () => void;
    const self = this.requireSelf();
    const conn: Conn = {
      socket: socket as SocketAdapter,
      peer: undefined,
      outgoing,
      queue: [],
      queuedBytes: 0,
      closeError: undefined,
      poll: undefined,
      pollMs: 1,
      flushing: false,
      closed: new Promise<void>((r) => (done = r)),
      isClosed: false,
      refused: false,
      onClose: [],
      handshake: new Handshake({
        side: outgoing ? 'dial' : 'accept',
        self,
        secret: this.secret,
        admit: outgoing ? undefined : (peer) => refuseSchedulerImpostor(peer, this.dialed),
      }),
      limiter: undefined,
    };
    conn.onClose.push(done);
    this.conns.add(conn);
    return conn;
  }

  /** Runs when a socket closes: fails its queued frames, runs the close hooks. */
  private closedConn(conn: Conn): void {
    if (conn.isClosed) return;
    conn.isClosed = true;
    this.conns.delete(conn);
    if (conn.poll !== undefined) clearTimeout(conn.poll);
    const err = this.closed
      ? new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport was closed`)
      : (conn.closeError ??
        new PsError(
          PsErrorCode.PEER_UNREACHABLE,
          `connection to ${conn.peer ?? 'peer'} closed before a queued frame was sent`,
        ));
    conn.queuedBytes = 0;
    for (const q of conn.queue.splice(0)) q.reject(err);
    for (const f of conn.onClose.splice(0)) f();
  }

  /**
   * Refuses a connection for bad input: reports the error (unless `report` is false), closes
   * the connection with `code`, and terminates it if the close does not complete within 1 s.
   */
  protected refuse(conn: Conn, error: PsError, code: number, report = true): void {
    if (conn.refused || conn.isClosed) return;
    conn.refused = true;
    if (report) this.emitError(error, conn.peer);
    void this.closeSocket(conn, code, error.message);
  }

  /** Closes a socket cleanly; terminates it when the close does not complete within 1 s. */
  protected closeSocket(conn: Conn, code: number, reason: string): Promise<void> {
    if (conn.isClosed) return Promise.resolve();
    try {
      if (conn.socket.isOpen) conn.socket.close(code, closeReason(reason));
      else conn.socket.terminate();
    } catch {
      conn.socket.terminate();
    }
    const t = setTimeout(() => {
      conn.socket.terminate();
      // A browser socket cannot be terminated: give up on its close event after another second.
      unref(setTimeout(() => this.closedConn(conn), 1000));
    }, 1000);
    unref(t);
    conn.onClose.push(() => clearTimeout(t));
    return conn.closed;
  }

  /**
   * The message handler of a connection: until the handshake is done, messages go to the
   * connection's `Handshake` (at most {@link HELLO_MAX_BYTES} each); then to frames$, within the
   * connection's message rate. Text messages are refused. `onOpen` runs when the handshake
   * completes; `onFail` when it fails (with `told` set when an error frame went to the peer).
   */
  private onMessage(
    conn: Conn,
    data: Uint8Array | undefined,
    onOpen: (peer: NodeId) => void,
    onFail: (e: PsError, told: boolean) => void,
  ): void {
    if (conn.refused || conn.isClosed) return;
    if (data === undefined) {
      const e = new PsError(
        conn.peer === undefined ? PsErrorCode.HANDSHAKE : PsErrorCode.FRAME_MALFORMED,
        `${conn.peer ?? 'a peer'} sent a text message; @ps frames are binary messages only; connection closed`,
      );
      if (conn.peer === undefined) onFail(e, false);
      else this.refuse(conn, e, CloseCode.UNSUPPORTED_DATA);
      return;
    }
    if (conn.peer !== undefined) {
      if (conn.limiter !== undefined && !conn.limiter.take()) {
        this.refuse(
          conn,
          new PsError(
            PsErrorCode.RATE_LIMIT,
            `${conn.peer} sent more than ${this.maxMessagesPerSecond} messages a second (maxMessagesPerSecond); connection closed`,
            { peer: conn.peer },
          ),
          CloseCode.POLICY_VIOLATION,
        );
        return;
      }
      this.framesSubject.next({ from: conn.peer, frame: data });
      return;
    }
    if (data.byteLength > HELLO_MAX_BYTES) {
      onFail(
        new PsError(
          PsErrorCode.FRAME_TOO_LARGE,
          `handshake message of ${data.byteLength} bytes is larger than allowed (${HELLO_MAX_BYTES} bytes at most); connection closed`,
        ),
        false,
      );
      return;
    }
    const step = conn.handshake.receive(data);
    if (step instanceof Promise) void step.then((s) => this.applyStep(conn, s, onOpen, onFail));
    else this.applyStep(conn, step, onOpen, onFail);
  }

  /** Acts on a handshake step: sends its frame, then opens the connection or refuses it. */
  private applyStep(
    conn: Conn,
    step: HandshakeStep,
    onOpen: (peer: NodeId) => void,
    onFail: (e: PsError, told: boolean) => void,
  ): void {
    if (conn.refused || conn.isClosed) return;
    if (step.send) this.writeFrame(conn, [step.send]).catch(() => undefined);
    if (step.error) {
      onFail(step.error, step.send !== undefined);
      return;
    }
    if (step.peer !== undefined) {
      conn.peer = step.peer;
      conn.socket.setMaxPayload?.(this.maxFrameBytes);
      if (this.maxMessagesPerSecond !== Number.POSITIVE_INFINITY) {
        conn.limiter = new TokenBucket(this.maxMessagesPerSecond);
      }
      onOpen(step.peer);
    }
  }

  /**
   * Takes over an accepted socket (the Node server's): waits up to `helloTimeoutMs` for its
   * handshake (the dialer speaks first), then delivers its frames. Returns the handlers its
   * adapter calls.
   */
  protected accept(
    describe: string,
    admission?: Admission,
  ): { handlers: SocketHandlers; attach: (s: SocketAdapter) => void } {
    const conn = this.newConn(undefined, false);
    const timer = setTimeout(() => {
      this.refuse(
        conn,
        new PsError(
          PsErrorCode.HANDSHAKE,
          `connection from ${describe} did not complete its handshake within ${this.helloTimeoutMs} ms; closed`,
        ),
        CloseCode.POLICY_VIOLATION,
      );
    }, this.helloTimeoutMs);
    unref(timer);
    conn.onClose.push(() => {
      clearTimeout(timer);
      if (conn.peer !== undefined && this.accepted.get(conn.peer) === conn) {
        this.accepted.delete(conn.peer);
        if (!this.closed) this.eventsSubject.next({ type: 'disconnected', peer: conn.peer });
      }
    });
    const handlers: SocketHandlers = {
      open: () => undefined,
      message: (data) =>
        this.onMessage(
          conn,
          data,
          (peer) => {
            clearTimeout(timer);
            admission?.authenticated();
            const old = this.accepted.get(peer);
            if (old && old !== conn) void this.closeSocket(old, CloseCode.POLICY_VIOLATION, 'replaced');
            this.accepted.set(peer, conn);
            this.eventsSubject.next({ type: 'connected', peer });
          },
          (e) => {
            clearTimeout(timer);
            this.refuse(
              conn,
              new PsError(
                e.code,
                `connection from ${describe}: ${bare(e)}`,
                e.details as Record<string, unknown>,
              ),
              CloseCode.POLICY_VIOLATION,
            );
          },
        ),
      error: (e) => this.refuse(conn, e, CloseCode.PROTOCOL_ERROR),
      close: () => this.closedConn(conn),
    };
    return {
      handlers,
      attach: (s) => {
        conn.socket = s;
        s.setMaxPayload?.(HELLO_MAX_BYTES);
        if (this.closed) void this.closeSocket(conn, CloseCode.GOING_AWAY, 'closing');
      },
    };
  }

  /** Opens one socket and completes the handshake; rejects on refusal or a failed handshake. */
  private dial(address: PeerAddress): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      const conn = this.newConn(undefined, true);
      const where = `${address.host}:${address.port}`;
      let settled = false;
      const fail = (err: PsError, told = false) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        if (told) {
          // Let the error frame reach the peer, then close.
          void this.closeSocket(conn, CloseCode.POLICY_VIOLATION, bare(err));
          conn.refused = true;
        } else {
          conn.refused = true;
          conn.socket?.terminate();
        }
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
      unref(timer);
      conn.onClose.push(() =>
        fail(
          new PsError(
            PsErrorCode.PEER_UNREACHABLE,
            `connection to ${where} closed before its handshake completed`,
          ),
        ),
      );
      const handlers: SocketHandlers = {
        open: () => {
          this.writeFrame(conn, [conn.handshake.start()]).catch(() => undefined);
        },
        message: (data) =>
          this.onMessage(
            conn,
            data,
            () => {
              clearTimeout(timer);
              if (settled) return;
              settled = true;
              resolve(conn);
            },
            (e, told) => {
              const said = e.code === PsErrorCode.AUTH || e.details?.remote === true;
              fail(
                said || e.code === PsErrorCode.RATE_LIMIT
                  ? new PsError(e.code, `${where}: ${bare(e)}`)
                  : new PsError(
                      PsErrorCode.HANDSHAKE,
                      `${where} is not a @ps node of this version: ${bare(e)}`,
                    ),
                told,
              );
            },
          ),
        error: (e) => {
          if (conn.peer === undefined) fail(e);
          else this.refuse(conn, e, CloseCode.PROTOCOL_ERROR);
        },
        close: () => this.closedConn(conn),
      };
      try {
        conn.socket = this.openSocket(wsUrl(address, this.path, this.scheme), handlers);
        conn.socket.setMaxPayload?.(HELLO_MAX_BYTES);
      } catch (err) {
        this.conns.delete(conn);
        clearTimeout(timer);
        settled = true;
        reject(
          err instanceof PsError
            ? err
            : new PsError(PsErrorCode.PEER_UNREACHABLE, `cannot connect to ${where}: ${String(err)}`),
        );
      }
    });
  }

  /** Dials until it succeeds or `windowMs` passes, with exponential backoff (20 ms to 1 s). */
  private async dialWithRetry(address: PeerAddress, windowMs: number): Promise<Conn> {
    const deadline = Date.now() + windowMs;
    let delay = 20;
    let last: PsError | undefined;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      if (this.closed) throw new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport is closed`);
      try {
        return await this.dial(address);
      } catch (err) {
        last = err as PsError;
        if (last.code !== PsErrorCode.PEER_UNREACHABLE || Date.now() + delay > deadline) break;
        await sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
    if (last && last.code !== PsErrorCode.PEER_UNREACHABLE && last.code !== PsErrorCode.HANDSHAKE) throw last;
    throw new PsError(
      last?.code === PsErrorCode.HANDSHAKE ? PsErrorCode.HANDSHAKE : PsErrorCode.PEER_UNREACHABLE,
      last?.code === PsErrorCode.HANDSHAKE
        ? last.message.slice(last.code.length + 2)
        : `${address.host}:${address.port} unreachable for ${windowMs} ms: ${last?.message ?? 'no attempt'}`,
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
    if (this.closed) {
      await this.closeSocket(conn, CloseCode.GOING_AWAY, 'closing');
      throw new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport is closed`);
    }
    const prev = this.dialed.get(id);
    if (prev?.conn && prev.conn !== conn) void this.closeSocket(prev.conn, CloseCode.NORMAL, 'replaced');
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
    this.refuse(a, err, CloseCode.POLICY_VIOLATION);
  }

  /** Reconnects a dialed peer when its socket drops (unless we are closing). */
  private watch(id: NodeId, d: Dialed, conn: Conn): void {
    conn.onClose.push(() => {
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
        void this.closeSocket(conn, CloseCode.GOING_AWAY, 'closing');
        return;
      }
      d.conn = conn;
      this.watch(id, d, conn);
      this.eventsSubject.next({ type: 'connected', peer: id });
      for (const w of d.waiters.splice(0)) w.resolve(conn);
    } catch (err) {
      const e =
        this.closed || (err as PsError).code === PsErrorCode.CLOSED
          ? new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport was closed`)
          : new PsError(
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
    if (d?.conn && !d.conn.isClosed && !d.conn.refused) return d.conn;
    const a = this.accepted.get(peer);
    if (a && !a.isClosed && !a.refused) return a;
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
        { peer, bytes: total },
      );
    }
    const c = this.connFor(peer);
    const conn = c instanceof Promise ? await c : c;
    return this.writeFrame(conn, frame, total);
  }

  /**
   * Queues a frame behind earlier ones while the socket's `bufferedAmount` is above the
   * high-water mark, and sends it once it falls below (checked after each send completes and by
   * a poll of growing interval, at most {@link MAX_POLL_INTERVAL_MS}). Resolves once the frame
   * was handed to the OS (Node) or the browser. So a sender that does not await its sends cannot
   * grow the socket's buffer past the high-water mark plus one frame.
   */
  protected writeFrame(conn: Conn, parts: readonly Uint8Array[], total?: number): Promise<void> {
    if (conn.closeError) return Promise.reject(conn.closeError);
    if (conn.isClosed || conn.refused || !conn.socket.isOpen) {
      return Promise.reject(
        new PsError(PsErrorCode.PEER_UNREACHABLE, `connection to ${conn.peer ?? 'peer'} is closed`),
      );
    }
    let len = total ?? 0;
    if (total === undefined) for (const p of parts) len += p.byteLength;
    const queued = conn.queuedBytes + conn.socket.bufferedAmount;
    if (overQueueLimit(queued, len, this.maxQueuedBytes)) {
      // Our own requests outran a peer we dialed: refuse this one; answers to a peer that does not
      // read them: drop the connection.
      if (conn.outgoing) {
        return Promise.reject(slowPeerError(conn.peer ?? 'peer', queued, this.maxQueuedBytes, false));
      }
      return Promise.reject(this.dropSlowPeer(conn, queued));
    }
    return new Promise<void>((resolve, reject) => {
      conn.queue.push({ parts, len, resolve, reject });
      conn.queuedBytes += len;
      this.flush(conn);
    });
  }

  /**
   * Drops a connection whose peer does not read (`maxQueuedBytes`) at once (a close frame would
   * wait behind what it does not read): reports it, and returns the `PS_ERR_SLOW_PEER` its queued
   * sends reject with.
   */
  private dropSlowPeer(conn: Conn, queued: number): PsError {
    if (conn.closeError) return conn.closeError;
    const err = slowPeerError(conn.peer ?? 'a peer', queued, this.maxQueuedBytes);
    conn.closeError = err;
    conn.refused = true;
    this.emitError(err, conn.peer);
    conn.socket.terminate();
    return err;
  }

  private flush(conn: Conn): void {
    if (conn.flushing) return;
    if (conn.poll !== undefined) {
      clearTimeout(conn.poll);
      conn.poll = undefined;
    }
    conn.flushing = true;
    let progressed = false;
    try {
      while (
        conn.queue.length > 0 &&
        conn.socket.isOpen &&
        conn.socket.bufferedAmount <= this.highWaterMarkBytes
      ) {
        progressed = true;
        const item = conn.queue.shift()!;
        conn.queuedBytes -= item.len;
        this.sendNow(conn, item);
      }
    } finally {
      conn.flushing = false;
    }
    if (progressed) conn.pollMs = 1;
    if (conn.queue.length > 0 && conn.socket.isOpen) {
      conn.poll = setTimeout(() => {
        conn.poll = undefined;
        this.flush(conn);
      }, conn.pollMs);
      unref(conn.poll);
      conn.pollMs = Math.min(conn.pollMs * 2, MAX_POLL_INTERVAL_MS);
    }
  }

  private sendNow(conn: Conn, { parts, len, resolve, reject }: QueuedFrame): void {
    try {
      conn.socket.send(parts, len, (err) => {
        if (err) {
          reject(
            new PsError(
              PsErrorCode.PEER_UNREACHABLE,
              `send to ${conn.peer ?? 'peer'} failed: ${err.message}`,
              undefined,
              { cause: err },
            ),
          );
        } else resolve();
        if (conn.queue.length > 0) this.flush(conn);
      });
    } catch (err) {
      reject(
        new PsError(PsErrorCode.PEER_UNREACHABLE, `send to ${conn.peer ?? 'peer'} failed: ${String(err)}`),
      );
    }
  }

  /** Closes the listener, if any (the Node transport's). */
  protected closeListener(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new PsError(PsErrorCode.CLOSED, `the ${this.kind} transport was closed`);
    for (const d of this.dialed.values()) for (const w of d.waiters.splice(0)) w.reject(err);
    for (const c of this.conns) for (const q of c.queue.splice(0)) q.reject(err);
    const ends = [...this.conns].map((c) => this.closeSocket(c, CloseCode.GOING_AWAY, 'node closing'));
    await Promise.all([...ends, this.closeListener()]);
    this.accepted.clear();
    this.dialed.clear();
    this.framesSubject.complete();
    this.eventsSubject.complete();
  }
}
