import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import {
  type Admission,
  type BindOptions,
  ConnectionLimits,
  DEFAULT_MAX_INBOUND_BUFFER_BYTES,
  InboundBudget,
  isTlsAuthError,
  type NodeAddress,
  PsError,
  PsErrorCode,
  StreamInboundGate,
} from '@ps/core';

export type { WsTlsOptions } from './ws-tls-options.js';

import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { type SocketAdapter, type SocketHandlers, type WsBaseOptions, WsTransportBase } from './ws-base.js';
import type { WsTlsOptions } from './ws-tls-options.js';

/** Options of {@link ws}. */
export interface WsTransportOptions extends WsBaseOptions {
  /** Speak TLS: listen with HTTPS and dial `wss://` URLs. Default: plain `ws://`. */
  tls?: WsTlsOptions;
  /**
   * Most accepted connections that may be waiting for their handshake (TLS, the WebSocket
   * upgrade and the @ps hellos) at once; further ones are closed at once (`PS_ERR_RATE_LIMIT`,
   * logged once per episode). Default 128.
   */
  maxPendingHandshakes?: number;
  /**
   * Of those, most from one remote address; further ones from that address are closed at once
   * (`PS_ERR_RATE_LIMIT`), so a flood from one address leaves places for nodes elsewhere.
   * Default 16.
   */
  maxPendingHandshakesPerSource?: number;
  /**
   * Most accepted connections open at once (before or after their upgrade and handshake);
   * further ones are closed at once (`PS_ERR_CONNECTION_LIMIT`, logged once per episode).
   * Default 1,024.
   */
  maxConnections?: number;
  /**
   * Most bytes of partly received messages this node holds at once over its accepted
   * connections, in bytes. Past it, a connection in the middle of a message above 64 KiB is not
   * read (the kernel's window holds the peer) until bytes free up, except one, which may finish
   * its message; so at most this plus one message (`maxFrameBytes`) is held. Default 256 MiB.
   */
  maxInboundBufferBytes?: number;
}

/** The `ws` receiver's size limit; lowered to a hello's size until the hello came. */
interface ReceiverInternals {
  _receiver?: { _maxPayload?: number } | null;
}

const toBuffer = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);

/** A TLS record holding a fatal handshake_failure alert: what a plain listener answers a TLS dialer. */
const TLS_HANDSHAKE_FAILURE_ALERT = Uint8Array.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);

/** Maps an error `ws` reports on an open connection (bad input) to a PsError. */
function inputError(err: Error & { code?: string }, maxFrameBytes: number): PsError {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
    return new PsError(
      PsErrorCode.FRAME_TOO_LARGE,
      `peer sent a message larger than allowed (${maxFrameBytes} bytes, or 4096 before its hello); connection closed`,
      undefined,
      { cause: err },
    );
  }
  return new PsError(
    PsErrorCode.FRAME_MALFORMED,
    `bad WebSocket input (${err.message}); connection closed`,
    undefined,
    { cause: err },
  );
}

/**
 * Adapts a `ws` socket. A frame's parts go out as the fragments of one message (`fin: false`
 * on all but the last), so the receiver gets one message and the sender copies nothing; a
 * server's fragments are written straight from the caller's buffers. (A client must mask what it
 * sends, which `ws` does on a copy: RFC 6455 leaves no way around that one copy.)
 */
function adapt(socket: WebSocket, handlers: SocketHandlers, maxFrameBytes: number, opened: boolean) {
  socket.binaryType = 'nodebuffer';
  let isOpen = opened;
  let maxPayload: number | undefined;
  const applyMaxPayload = () => {
    const r = (socket as unknown as ReceiverInternals)._receiver;
    if (maxPayload !== undefined && r && typeof r._maxPayload === 'number') r._maxPayload = maxPayload;
  };
  socket.on('open', () => {
    isOpen = true;
    applyMaxPayload(); // a client's receiver exists from the upgrade on
    handlers.open();
  });
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) handlers.message(undefined);
    else handlers.message(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer));
  });
  socket.on('error', (err: Error & { code?: string; syscall?: string }) => {
    if (!isOpen && isTlsAuthError(err)) {
      // An untrusted certificate, or a peer that does not speak TLS: retrying will not help.
      handlers.error(
        new PsError(PsErrorCode.AUTH, `TLS failed: ${err.message}`, undefined, {
          cause: err,
        }),
      );
    } else if (!isOpen && err.code?.startsWith('HPE_')) {
      // Not HTTP at all in answer to the upgrade: a TLS port dialed without tls, or another protocol.
      handlers.error(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `not a @ps WebSocket endpoint (the answer is not HTTP: ${err.message}); a wss:// port? give this transport the same tls options as the server`,
          undefined,
          { cause: err },
        ),
      );
    } else if (!isOpen) {
      // Before the upgrade: refused, reset or timed out is worth a retry; a server that answers
      // the upgrade wrongly (a 4xx, a bad accept header) is not a @ps WebSocket endpoint.
      const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
      // A wss:// port closes on a plain upgrade request without a word: say so, and retry.
      const hint = /hang up/i.test(err.message)
        ? ' (a wss:// port? then give this transport the tls options of the cluster)'
        : '';
      const retry =
        err.syscall !== undefined ||
        err.code !== undefined ||
        /timed out|closed before|hang up/i.test(err.message) ||
        (status !== undefined && Number(status) >= 500);
      handlers.error(
        new PsError(
          retry ? PsErrorCode.PEER_UNREACHABLE : PsErrorCode.HANDSHAKE,
          retry ? `cannot connect: ${err.message}${hint}` : `not a @ps WebSocket endpoint: ${err.message}`,
          undefined,
          { cause: err },
        ),
      );
    } else handlers.error(inputError(err, maxFrameBytes));
  });
  socket.on('close', () => {
    isOpen = false;
    handlers.close();
  });
  const adapter: SocketAdapter = {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get isOpen() {
      return isOpen && socket.readyState === WebSocket.OPEN;
    },
    get isClosed() {
      return socket.readyState === WebSocket.CLOSED;
    },
    send(parts, _total, done) {
      if (parts.length <= 1) {
        socket.send(parts.length === 0 ? Buffer.alloc(0) : toBuffer(parts[0]!), { binary: true }, done);
        return;
      }
      const last = parts.length - 1;
      for (let i = 0; i < last; i++) socket.send(toBuffer(parts[i]!), { binary: true, fin: false });
      socket.send(toBuffer(parts[last]!), { binary: true, fin: true }, done);
    },
    close: (code, reason) => socket.close(code, reason),
    terminate: () => socket.terminate(),
    setMaxPayload(bytes) {
      maxPayload = bytes;
      applyMaxPayload();
    },
  };
  return adapter;
}

/**
 * The WebSocket transport on Node (`ws`): a `WebSocketServer` on `bind` (on HTTPS with the
 * `tls` option), a client `WebSocket` on `connect` (`wss://` with `tls`). One binary WebSocket
 * message is one frame, so no length prefix is needed; the first messages each way are core's
 * handshake (`Handshake`: the hellos and, with a cluster secret, the HMAC proofs). Text
 * messages, a failed handshake, messages above `maxFrameBytes` (ws's `maxPayload`; 4 KiB before
 * the handshake completes) and a peer over its message rate close only the connection they came
 * on, reported on `events$`. A send resolves in `ws`'s send callback (the bytes reached the
 * kernel) and waits while the socket's `bufferedAmount` is above `highWaterMarkBytes`. Outgoing
 * connections reconnect with backoff when dropped; sends made meanwhile wait for the reconnect
 * (up to `reconnectWindowMs`). Compression is off.
 */
export class WsTransport extends WsTransportBase {
  readonly kind = 'ws';
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly tls: WsTlsOptions | undefined;
  /** `maxConnections` and the pending-handshake limits of accepted connections. */
  private readonly limits: ConnectionLimits;
  /** Each accepted connection's place in `limits`, by its remote address and port. */
  private readonly admissions = new Map<string, Admission>();
  /** `maxInboundBufferBytes`, counted as messages arrive (`ws` gathers their fragments). */
  private readonly gate: StreamInboundGate;
  /** Accepted sockets not upgraded yet, with the timer that closes them. */
  private readonly upgradeTimers = new WeakMap<Socket, ReturnType<typeof setTimeout>>();

  /**
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes, or limits that are not
   *   positive numbers.
   */
  constructor(opts: WsTransportOptions = {}) {
    super(opts);
    this.tls = opts.tls;
    this.limits = new ConnectionLimits({
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxPendingHandshakes !== undefined ? { maxPendingHandshakes: opts.maxPendingHandshakes } : {}),
      ...(opts.maxPendingHandshakesPerSource !== undefined
        ? { maxPendingHandshakesPerSource: opts.maxPendingHandshakesPerSource }
        : {}),
    });
    this.gate = new StreamInboundGate(
      new InboundBudget(opts.maxInboundBufferBytes ?? DEFAULT_MAX_INBOUND_BUFFER_BYTES),
    );
  }

  protected override get scheme(): 'ws' | 'wss' {
    return this.tls ? 'wss' : 'ws';
  }

  /**
   * Sets this node's id and (unless `listen: false`) listens at `self.host:self.port` (HTTPS
   * with the `tls` option).
   * @throws PsError `PS_ERR_BIND` when the address cannot be bound, `PS_ERR_CONFIG` when `tls`
   *   lacks `cert` or `key` (or they do not load), or the transport is bound already.
   */
  async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    this.assertOpen();
    if (this.self !== undefined && this.http) {
      throw new PsError(PsErrorCode.CONFIG, 'this transport is bound already; make one transport per node');
    }
    this.self = self.id;
    if (options.listen === false) return { ...self, port: 0 };
    const http = this.httpServer();
    await new Promise<void>((resolve, reject) => {
      http.once('error', (err) =>
        reject(
          new PsError(
            PsErrorCode.BIND,
            `cannot listen on ${self.host}:${self.port}: ${err.message}`,
            undefined,
            { cause: err },
          ),
        ),
      );
      http.listen(self.port, self.host, () => resolve());
    });
    const wss = new WebSocketServer({
      server: http,
      path: this.path,
      maxPayload: this.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    wss.on('error', (err) =>
      this.emitError(
        new PsError(PsErrorCode.BIND, `listener error: ${err.message}`, undefined, { cause: err }),
      ),
    );
    wss.on('connection', (socket, req) => {
      clearTimeout(this.upgradeTimers.get(req.socket));
      this.upgradeTimers.delete(req.socket);
      const where = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      const { handlers, attach } = this.accept(where, this.admissions.get(admissionKey(req.socket)));
      // Count the bytes of each message as they arrive, ahead of ws's own parser.
      const entry = this.gate.open({ pause: () => socket.pause(), resume: () => socket.resume() });
      req.socket.prependListener('data', (chunk: Buffer) => entry.received(chunk.byteLength));
      socket.on('message', () => entry.frameDone());
      socket.once('close', () => entry.closed());
      attach(adapt(socket, handlers, this.maxFrameBytes, true));
    });
    this.http = http;
    this.wss = wss;
    const addr = http.address() as AddressInfo;
    return { id: self.id, host: self.host, port: addr.port };
  }

  /** The HTTP(S) server under the WebSocket server, with the limits on connections before their upgrade. */
  private httpServer(): Server {
    const answer426 = (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('this is a @ps WebSocket endpoint; connect with a WebSocket client\n');
    };
    const timeouts = { headersTimeout: this.helloTimeoutMs, requestTimeout: this.helloTimeoutMs };
    let http: Server;
    const o = this.tls;
    if (o) {
      if (o.cert === undefined || o.key === undefined) {
        throw new PsError(
          PsErrorCode.CONFIG,
          'a TLS WebSocket transport that listens needs tls.cert and tls.key (PEM); a worker that only dials needs neither',
        );
      }
      try {
        http = createHttpsServer(
          {
            ...timeouts,
            cert: o.cert,
            key: o.key,
            ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
            ...(o.ca !== undefined ? { ca: o.ca } : {}),
            requestCert: o.requestCert ?? false,
            rejectUnauthorized: o.requestCert ? (o.rejectUnauthorized ?? true) : false,
            handshakeTimeout: this.helloTimeoutMs,
          },
          answer426,
        ) as unknown as Server;
      } catch (err) {
        throw new PsError(
          PsErrorCode.CONFIG,
          `cannot load the TLS certificate or key: ${(err as Error).message}`,
          undefined,
          { cause: err },
        );
      }
      http.on('tlsClientError', (err: Error & { code?: string }, socket: Socket) => {
        socket.destroy(); // with a listener for this event, closing the socket is ours to do
        if (err.code === 'ECONNRESET' || this.closed) return;
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
    } else {
      http = createHttpServer(timeouts, answer426);
    }
    // Every TCP connection, before TLS: refused at once while too many wait for their handshake.
    http.prependListener('connection', (raw: Socket) => this.admitRaw(raw));
    // From the first byte of HTTP (after TLS, if any) to the upgrade: at most helloTimeoutMs.
    http.on(o ? 'secureConnection' : 'connection', (socket: Socket) => {
      if (socket.destroyed) return;
      const t = setTimeout(() => {
        if (this.upgradeTimers.get(socket) !== t) return;
        this.upgradeTimers.delete(socket);
        if (!socket.destroyed) {
          this.emitError(
            new PsError(
              PsErrorCode.HANDSHAKE,
              `connection from ${socket.remoteAddress}:${socket.remotePort} did not upgrade to a WebSocket within ${this.helloTimeoutMs} ms; closed`,
            ),
          );
          socket.destroy();
        }
      }, this.helloTimeoutMs);
      t.unref();
      this.upgradeTimers.set(socket, t);
      socket.once('close', () => clearTimeout(t));
    });
    http.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
      // TLS failures were reported by 'tlsClientError' already.
      const tlsFailure = err.code?.startsWith('ERR_SSL_') === true;
      const tlsHello = !o && err.rawPacket !== undefined && err.rawPacket[0] === 0x16;
      if (err.code !== 'ECONNRESET' && !tlsFailure && !this.closed) {
        this.emitError(
          new PsError(
            PsErrorCode.HANDSHAKE,
            tlsHello
              ? `connection from ${socket.remoteAddress}:${socket.remotePort} speaks TLS (wss) and this endpoint does not; give every node the same tls options; closed`
              : `connection from ${socket.remoteAddress}:${socket.remotePort} sent bad HTTP (${err.code ?? err.message}); closed`,
          ),
        );
      }
      if (socket.writable && !tlsFailure) {
        // A TLS dialer gets a fatal alert, so it fails at once instead of retrying.
        socket.end(
          tlsHello ? TLS_HANDSHAKE_FAILURE_ALERT : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n',
        );
        setTimeout(() => socket.destroy(), 1000).unref();
      } else socket.destroy();
    });
    return http;
  }

  /**
   * Counts an accepted TCP connection; refuses it past `maxConnections`, or while too many (in
   * all, or from its address) wait for their handshake.
   */
  private admitRaw(raw: Socket): void {
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

  protected openSocket(url: string, handlers: SocketHandlers): SocketAdapter {
    const o = this.tls;
    const socket = new WebSocket(url, {
      maxPayload: this.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: this.helloTimeoutMs,
      ...(o?.ca !== undefined ? { ca: o.ca } : {}),
      ...(o?.cert !== undefined ? { cert: o.cert } : {}),
      ...(o?.key !== undefined ? { key: o.key } : {}),
      ...(o?.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
      ...(o?.servername !== undefined ? { servername: o.servername } : {}),
      ...(o ? { rejectUnauthorized: o.rejectUnauthorized ?? true } : {}),
    });
    return adapt(socket, handlers, this.maxFrameBytes, false);
  }

  protected override closeListener(): Promise<void> {
    const { http, wss } = this;
    if (!http || !wss) return Promise.resolve();
    return new Promise<void>((resolve) => {
      wss.close(() => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    });
  }
}

/** The key of an accepted socket in `admissions`: the raw and the TLS socket report the same. */
function admissionKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** Makes a WebSocket transport for Node: `createServer({ transport: ws({ secret }), ... })`. */
export function ws(opts: WsTransportOptions = {}): WsTransport {
  return new WsTransport(opts);
}
