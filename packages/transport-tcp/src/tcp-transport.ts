import net from 'node:net';
import {
  type BindOptions,
  DEFAULT_MAX_FRAME_BYTES,
  decodeHello,
  encodeHello,
  type InboundFrame,
  type NodeAddress,
  type NodeId,
  type PeerAddress,
  PsError,
  PsErrorCode,
  type Transport,
  type TransportEvent,
} from '@ps/core';
import { type Observable, Subject } from 'rxjs';
import { FrameReader } from './frame-reader.js';

/** Options of {@link tcp}. */
export interface TcpTransportOptions {
  /** Largest frame accepted or sent, in bytes. Default 512 MiB (as core's codec). */
  maxFrameBytes?: number;
  /** How long `connect` keeps retrying a peer that refuses, in ms. Default 30,000. */
  connectTimeoutMs?: number;
  /** How long a dropped outgoing connection is retried before sends fail, in ms. Default 10,000. */
  reconnectWindowMs?: number;
  /** How long an accepted connection may stay silent before its hello, in ms. Default 10,000. */
  helloTimeoutMs?: number;
}

interface QueuedFrame {
  parts: readonly Uint8Array[];
  len: number;
  resolve: () => void;
  reject: (e: PsError) => void;
}

interface Conn {
  socket: net.Socket;
  peer: NodeId | undefined;
  reader: FrameReader;
  outgoing: boolean;
  /** Frames waiting for the socket to drain, in send order. */
  queue: QueuedFrame[];
}

interface Dialed {
  address: PeerAddress;
  conn: Conn | undefined;
  /** Sends waiting for a reconnect. */
  waiters: { resolve: (c: Conn) => void; reject: (e: PsError) => void }[];
  reconnecting: boolean;
}

/** Largest frame accepted before a connection's hello (a hello is well under 200 bytes). */
export const HELLO_MAX_BYTES = 4096;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The TCP transport (`node:net`): frames are a u32 little-endian length and the frame's bytes;
 * the first frame each way is the core handshake (`encodeHello`). Writes are corked so a
 * frame's parts leave in one `writev` without being copied together; a send resolves once the
 * kernel took the bytes, which is also how backpressure reaches the caller. Outgoing
 * connections reconnect with backoff when dropped; sends made meanwhile wait for the reconnect
 * (up to `reconnectWindowMs`). Bad input (an oversized length, a bad hello) closes only the
 * connection it came on.
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

  constructor(opts: TcpTransportOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
    this.reconnectWindowMs = opts.reconnectWindowMs ?? 10_000;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
  }

  async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    this.assertOpen();
    this.self = self.id;
    if (options.listen === false) return { ...self, port: 0 };
    const server = net.createServer((socket) => this.onAccept(socket));
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

  private assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the TCP transport is closed');
  }

  private emitError(error: PsError, peer?: NodeId): void {
    if (!this.closed)
      this.eventsSubject.next(peer === undefined ? { type: 'error', error } : { type: 'error', error, peer });
  }

  private hello(): Uint8Array {
    if (this.self === undefined) {
      throw new PsError(PsErrorCode.CONFIG, 'bind() the transport (it sets the node id) before connecting');
    }
    return encodeHello(this.self);
  }

  private track(socket: net.Socket, outgoing: boolean): Conn {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const conn: Conn = {
      socket,
      peer: undefined,
      reader: new FrameReader(HELLO_MAX_BYTES),
      outgoing,
      queue: [],
    };
    socket.on('close', () => {
      this.sockets.delete(socket);
      const err = new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `connection to ${conn.peer ?? 'peer'} closed before a queued frame was written`,
      );
      for (const q of conn.queue.splice(0)) q.reject(err);
    });
    socket.on('error', () => undefined); // 'close' follows; errors surface through it
    return conn;
  }

  /**
   * Reads frames off a socket; the first one is the hello, the rest go to frames$. Until the
   * hello, frames are limited to {@link HELLO_MAX_BYTES}, so that a peer that has not said who it
   * is cannot make this node allocate a large frame buffer. `onBadInput` runs (before the socket
   * is destroyed) with the error that closed the connection.
   */
  private read(conn: Conn, onHello: (peer: NodeId) => void, onBadInput?: (e: PsError) => void): void {
    conn.socket.on('data', (chunk: Buffer) => {
      try {
        conn.reader.push(chunk, (frame) => {
          if (conn.peer === undefined) {
            const { id } = decodeHello(frame);
            conn.peer = id;
            conn.reader.maxFrameBytes = this.maxFrameBytes;
            onHello(id);
            return;
          }
          this.framesSubject.next({ from: conn.peer, frame });
        });
      } catch (err) {
        const e = err instanceof PsError ? err : new PsError(PsErrorCode.FRAME_MALFORMED, String(err));
        if (onBadInput) onBadInput(e);
        else this.emitError(e, conn.peer);
        conn.socket.destroy();
      }
    });
  }

  private onAccept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const conn = this.track(socket, false);
    const timer = setTimeout(() => {
      this.emitError(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `connection from ${socket.remoteAddress}:${socket.remotePort} sent no hello within ${this.helloTimeoutMs} ms; closed`,
        ),
      );
      socket.destroy();
    }, this.helloTimeoutMs);
    timer.unref();
    this.read(conn, (peer) => {
      clearTimeout(timer);
      const old = this.accepted.get(peer);
      if (old && old.socket !== socket) old.socket.destroy();
      this.accepted.set(peer, conn);
      this.writeFrame(conn, [this.hello()]).catch(() => undefined);
      this.eventsSubject.next({ type: 'connected', peer });
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const partial = conn.reader.partialBytes;
      if (partial > 0 && !this.closed) {
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

  /** Opens one socket and completes the handshake; rejects on refusal or a bad hello. */
  private dial(address: PeerAddress): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      const socket = net.connect({ host: address.host, port: address.port });
      const conn = this.track(socket, true);
      let settled = false;
      const fail = (err: PsError) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new PsError(
              PsErrorCode.HANDSHAKE,
              `${address.host}:${address.port} sent no hello within ${this.helloTimeoutMs} ms`,
            ),
          ),
        this.helloTimeoutMs,
      );
      timer.unref();
      socket.once('connect', () => {
        this.writeFrame(conn, [this.hello()]).catch(() => undefined);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        fail(
          new PsError(
            PsErrorCode.PEER_UNREACHABLE,
            `connection to ${address.host}:${address.port} closed before its hello`,
          ),
        );
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        fail(
          new PsError(
            PsErrorCode.PEER_UNREACHABLE,
            `cannot connect to ${address.host}:${address.port}: ${err.message}`,
          ),
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
          clearTimeout(timer);
          if (conn.peer === undefined) {
            fail(
              new PsError(
                PsErrorCode.HANDSHAKE,
                `${address.host}:${address.port} is not a @ps node: ${e.message}`,
              ),
            );
          } else this.emitError(e, conn.peer);
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
        if (last.code === PsErrorCode.HANDSHAKE || Date.now() + delay > deadline) break;
        await sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
    throw new PsError(
      last?.code === PsErrorCode.HANDSHAKE ? PsErrorCode.HANDSHAKE : PsErrorCode.PEER_UNREACHABLE,
      `${address.host}:${address.port} unreachable for ${windowMs} ms: ${last?.message ?? 'no attempt'}`,
    );
  }

  async connect(peer: PeerAddress): Promise<NodeId> {
    this.assertOpen();
    this.hello();
    for (const [id, d] of this.dialed) {
      if (d.address.host === peer.host && d.address.port === peer.port && d.conn) return id;
    }
    const conn = await this.dialWithRetry(peer, this.connectTimeoutMs);
    const id = conn.peer!;
    const prev = this.dialed.get(id);
    if (prev?.conn && prev.conn !== conn) prev.conn.socket.destroy();
    const d: Dialed = { address: peer, conn, waiters: [], reconnecting: false };
    this.dialed.set(id, d);
    this.watch(id, d, conn);
    this.eventsSubject.next({ type: 'connected', peer: id });
    return id;
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
    if (socket.destroyed || !socket.writable) {
      return Promise.reject(
        new PsError(PsErrorCode.PEER_UNREACHABLE, `connection to ${conn.peer ?? 'peer'} is closed`),
      );
    }
    let len = total ?? 0;
    if (total === undefined) for (const p of parts) len += p.byteLength;
    return new Promise<void>((resolve, reject) => {
      const item: QueuedFrame = { parts, len, resolve, reject };
      if (conn.queue.length > 0 || socket.writableNeedDrain) {
        conn.queue.push(item);
        if (conn.queue.length === 1) socket.once('drain', () => this.flush(conn));
        return;
      }
      this.writeNow(conn, item);
    });
  }

  private flush(conn: Conn): void {
    while (conn.queue.length > 0 && !conn.socket.writableNeedDrain && !conn.socket.destroyed) {
      this.writeNow(conn, conn.queue.shift()!);
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
          new PsError(PsErrorCode.PEER_UNREACHABLE, `write to ${conn.peer ?? 'peer'} failed: ${err.message}`),
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

/** Makes a TCP transport: `createWorker({ transport: tcp(), ... })`. */
export function tcp(opts: TcpTransportOptions = {}): TcpTransport {
  return new TcpTransport(opts);
}
