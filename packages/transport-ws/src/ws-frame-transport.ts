import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import {
  type Admission,
  ConnectionLimits,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  type FrameAddress,
  type FrameChannel,
  type FrameChannelLimits,
  type FrameTransport,
  type InboundBudget,
  isTlsAuthError,
  PsError,
  PsErrorCode,
  StreamInboundGate,
} from '@ps/core';
import { type Observable, Subject } from 'rxjs';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_HIGH_WATER_MARK_BYTES, type SocketAdapter, WsChannel } from './internal/ws-channel.js';
import { wsUrl } from './internal/ws-url.js';
import type { WsTlsOptions } from './ws-tls-options.js';

/** Options of {@link WsFrameTransport}: the medium's own limits, none of the message layer's. */
export interface WsFrameTransportOptions {
  /** Largest frame (one WebSocket message) this medium sends or accepts, in bytes. Default 512 MiB. */
  maxFrameBytes?: number;
  /** Sends wait while a socket's `bufferedAmount` is above this many bytes. Default 1 MiB. */
  highWaterMarkBytes?: number;
  /** Path of the WebSocket endpoint (the URL is `ws://host:port<path>`). Default `/`. */
  path?: string;
  /** Speak TLS: listen with HTTPS and dial `wss://` URLs. Default: plain `ws://`. */
  tls?: WsTlsOptions;
  /**
   * How long an accepted TCP connection has to complete TLS (with `tls`) and the HTTP upgrade,
   * in ms; then it is closed. Default 5,000.
   */
  upgradeTimeoutMs?: number;
  /** Most accepted connections open at once, upgraded or not (`PS_ERR_CONNECTION_LIMIT`). Default 1,024. */
  maxConnections?: number;
  /**
   * Most accepted connections pending at once: from their TCP accept through TLS and the upgrade
   * until the message layer raises their frame limit after its handshake (`PS_ERR_RATE_LIMIT`).
   * Default 128.
   */
  maxPendingUpgrades?: number;
  /** Of those, most from one address (`PS_ERR_RATE_LIMIT`). Default 16. */
  maxPendingUpgradesPerSource?: number;
}

/** A TLS record holding a fatal handshake_failure alert: what a plain listener answers a TLS dialer. */
const TLS_HANDSHAKE_FAILURE_ALERT = Uint8Array.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);

/** The `ws` receiver's size limit, which `ws` has no public setter for. */
interface ReceiverInternals {
  _receiver?: { _maxPayload?: number } | null;
}

const toBuffer = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);

/**
 * Adapts a `ws` socket to a {@link WsChannel}. A frame's parts go out as the fragments of one
 * message (`fin: false` on all but the last): the receiver gets one message and a server copies
 * nothing (a client masks on a copy, as RFC 6455 requires). The size limit is `ws`'s
 * `maxPayload`, checked from each fragment's header before its payload is buffered.
 */
function adapt(socket: WebSocket): SocketAdapter & { readonly ws: WebSocket } {
  return {
    ws: socket,
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get isOpen() {
      return socket.readyState === WebSocket.OPEN;
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
      const r = (socket as unknown as ReceiverInternals)._receiver;
      if (r && typeof r._maxPayload === 'number') r._maxPayload = bytes;
    },
  };
}

/** Wires a `ws` socket's events to its channel; `budget` counts its partial messages. */
function wire(socket: WebSocket, raw: Socket, channel: WsChannel, gate: StreamInboundGate): void {
  socket.binaryType = 'nodebuffer';
  const entry = gate.open({ pause: () => socket.pause(), resume: () => socket.resume() });
  // Bytes are counted from the socket, ahead of ws's parser, until the channel fails or closes.
  let counting = true;
  const stopCounting = () => {
    counting = false;
    entry.closed();
  };
  raw.prependListener('data', (chunk: Buffer) => {
    if (counting) entry.received(chunk.byteLength);
  });
  socket.on('message', (data: RawData, isBinary: boolean) => {
    entry.frameDone();
    if (!isBinary) channel.received(undefined);
    else channel.received(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer));
  });
  socket.on('error', (err: Error & { code?: string }) => {
    stopCounting();
    channel.failed(
      err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? channel.tooLarge()
        : new PsError(
            PsErrorCode.FRAME_MALFORMED,
            `bad WebSocket input from ${channel.source} (${err.message}); connection closed`,
            undefined,
            { cause: err },
          ),
    );
  });
  socket.on('close', (code: number, reason: Buffer) => {
    stopCounting();
    channel.ended(code, reason.toString());
  });
}

/** Maps an error of a dial before the upgrade completed to a PsError. */
function dialError(err: Error & { code?: string; syscall?: string }, url: string): PsError {
  const cause = { cause: err };
  if (isTlsAuthError(err)) {
    // An untrusted certificate, or a peer that does not speak TLS: retrying will not help.
    return new PsError(PsErrorCode.AUTH, `TLS to ${url} failed: ${err.message}`, undefined, cause);
  }
  if (err.code?.startsWith('HPE_')) {
    return new PsError(
      PsErrorCode.HANDSHAKE,
      `${url} is not a @ps WebSocket endpoint (the answer is not HTTP: ${err.message}); a wss:// port? give this transport the same tls options as the server`,
      undefined,
      cause,
    );
  }
  const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
  // Refused, reset or timed out is worth a retry; a 4xx or a bad accept header is not.
  const retry =
    err.syscall !== undefined ||
    err.code !== undefined ||
    /timed out|closed before|hang up/i.test(err.message) ||
    (status !== undefined && Number(status) >= 500);
  // A wss:// port closes on a plain upgrade request without a word: say so.
  const hint = /hang up/i.test(err.message)
    ? ' (a wss:// port? then give this transport the tls options of the cluster)'
    : '';
  return retry
    ? new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `cannot connect to ${url}: ${err.message}${hint}`,
        undefined,
        cause,
      )
    : new PsError(
        PsErrorCode.HANDSHAKE,
        `${url} is not a @ps WebSocket endpoint: ${err.message}`,
        undefined,
        cause,
      );
}

/**
 * The WebSocket medium on Node (`ws`): core's `FrameTransport`. `listen` runs an HTTP (with `tls`:
 * HTTPS) server whose upgrades become channels; `dial` opens a client `WebSocket` (`wss://` with
 * `tls`). One binary WebSocket message is one frame. Before the upgrade, this medium alone guards
 * its port: plain HTTP requests get `426 Upgrade Required`, connections that do not upgrade
 * within `upgradeTimeoutMs` are closed, and `maxConnections` / `maxPendingUpgrades(PerSource)`
 * refuse the excess at once; each refusal is reported on {@link refusals$}. Everything after the
 * upgrade (the @ps handshake, authentication, rate limits, reconnects) is the message layer's.
 */
export class WsFrameTransport implements FrameTransport {
  readonly kind = 'ws';
  readonly maxFrameBytes: number;
  private readonly refusals = new Subject<PsError>();
  /** Connections refused before they became a channel (bad HTTP, TLS failure, no upgrade, limits). */
  readonly refusals$: Observable<PsError> = this.refusals.asObservable();
  private readonly highWaterMarkBytes: number;
  private readonly path: string;
  private readonly tls: WsTlsOptions | undefined;
  private readonly upgradeTimeoutMs: number;
  private readonly limits: ConnectionLimits;
  private readonly gates = new WeakMap<InboundBudget, StreamInboundGate>();
  private readonly channels = new Set<WsChannel>();
  private readonly dialing = new Set<WebSocket>();
  /** Accepted connections not upgraded yet: their upgrade timer and their place in `limits`. */
  private readonly pendingUpgrades = new Map<
    string,
    { timer: ReturnType<typeof setTimeout>; admission: Admission }
  >();
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private closed = false;

  /** @throws PsError `PS_ERR_CONFIG` for limits that are not positive numbers. */
  constructor(opts: WsFrameTransportOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.highWaterMarkBytes = opts.highWaterMarkBytes ?? DEFAULT_HIGH_WATER_MARK_BYTES;
    this.path = opts.path ?? '/';
    this.tls = opts.tls;
    this.upgradeTimeoutMs = opts.upgradeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (!(this.maxFrameBytes > 0) || !(this.highWaterMarkBytes >= 0) || !(this.upgradeTimeoutMs > 0)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `maxFrameBytes and upgradeTimeoutMs must be > 0 and highWaterMarkBytes >= 0; got ${this.maxFrameBytes}, ${this.upgradeTimeoutMs}, ${this.highWaterMarkBytes}`,
      );
    }
    this.limits = new ConnectionLimits({
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxPendingUpgrades !== undefined ? { maxPendingHandshakes: opts.maxPendingUpgrades } : {}),
      ...(opts.maxPendingUpgradesPerSource !== undefined
        ? { maxPendingHandshakesPerSource: opts.maxPendingUpgradesPerSource }
        : {}),
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the ws transport is closed');
  }

  private refuse(e: PsError): void {
    if (!this.closed) this.refusals.next(e);
  }

  private gate(budget: InboundBudget): StreamInboundGate {
    const g = this.gates.get(budget) ?? new StreamInboundGate(budget);
    this.gates.set(budget, g);
    return g;
  }

  private track(channel: WsChannel): WsChannel {
    this.channels.add(channel);
    channel.onEnd(() => this.channels.delete(channel));
    return channel;
  }

  /**
   * Listens at `at` (HTTPS with `tls`); every upgraded connection becomes a channel.
   * @throws PsError `PS_ERR_BIND` when the address cannot be bound, `PS_ERR_CONFIG` when `tls`
   *   lacks `cert` or `key` (or they do not load), or this transport listens already.
   */
  async listen(
    at: FrameAddress,
    limits: () => FrameChannelLimits,
    accept: (channel: FrameChannel) => void,
  ): Promise<FrameAddress> {
    this.assertOpen();
    if (this.http)
      throw new PsError(PsErrorCode.CONFIG, 'this ws transport listens already; make one per node');
    const http = this.httpServer();
    this.http = http;
    await new Promise<void>((resolve, reject) => {
      http.once('error', (err) => {
        this.http = undefined;
        reject(
          new PsError(PsErrorCode.BIND, `cannot listen on ${at.host}:${at.port}: ${err.message}`, undefined, {
            cause: err,
          }),
        );
      });
      http.listen(at.port, at.host, () => resolve());
    });
    const wss = new WebSocketServer({
      server: http,
      path: this.path,
      maxPayload: this.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    wss.on('error', (err) =>
      this.refuse(new PsError(PsErrorCode.BIND, `listener error: ${err.message}`, undefined, { cause: err })),
    );
    wss.on('connection', (socket, req) => {
      const key = upgradeKey(req.socket);
      const pending = this.pendingUpgrades.get(key);
      this.pendingUpgrades.delete(key);
      if (pending) clearTimeout(pending.timer);
      if (this.closed) {
        socket.terminate();
        return;
      }
      const l = limits();
      const ch = new WsChannel(
        adapt(socket),
        req.socket.remoteAddress ?? 'unknown',
        this.maxFrameBytes,
        l.maxFrameBytes,
        this.highWaterMarkBytes,
        `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      );
      // The place is pending until the message layer raises the limit: its handshake completed.
      if (pending) ch.onceRaised(() => pending.admission.authenticated());
      wire(socket, req.socket, this.track(ch), this.gate(l.budget));
      accept(ch);
    });
    this.wss = wss;
    return { host: at.host, port: (http.address() as AddressInfo).port };
  }

  /**
   * Opens one WebSocket to `at` (`wss://` with `tls`).
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (refused, reset, a 5xx or `timeoutMs` passed),
   *   `PS_ERR_HANDSHAKE` (the endpoint is no WebSocket server: not HTTP, a 4xx),
   *   `PS_ERR_AUTH` (TLS failed: an untrusted certificate, or a plain port dialed with `tls`).
   */
  async dial(at: FrameAddress, limits: FrameChannelLimits, timeoutMs: number): Promise<FrameChannel> {
    this.assertOpen();
    const url = wsUrl(at, this.path, this.tls ? 'wss' : 'ws');
    const socket = this.openSocket(url, timeoutMs);
    this.dialing.add(socket);
    return new Promise<FrameChannel>((resolve, reject) => {
      let raw: Socket | undefined;
      const onUpgrade = (res: { socket: unknown }) => {
        raw = res.socket as Socket;
      };
      const onError = (err: Error) => fail(dialError(err, url));
      const onClose = () =>
        fail(new PsError(PsErrorCode.PEER_UNREACHABLE, `the connection to ${url} closed before it opened`));
      const settle = () => {
        clearTimeout(timer);
        this.dialing.delete(socket);
        socket.off('upgrade', onUpgrade).off('error', onError).off('close', onClose).off('open', onOpen);
      };
      const fail = (e: PsError) => {
        settle();
        socket.on('error', () => undefined); // a late one, from the socket being dropped
        socket.terminate();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new PsError(PsErrorCode.PEER_UNREACHABLE, `${url} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onOpen = () => {
        settle();
        if (this.closed || !raw) {
          fail(new PsError(PsErrorCode.CLOSED, 'the ws transport is closed'));
          return;
        }
        const ch = new WsChannel(
          adapt(socket),
          raw.remoteAddress ?? at.host,
          this.maxFrameBytes,
          limits.maxFrameBytes,
          this.highWaterMarkBytes,
          `${raw.remoteAddress}:${raw.remotePort}`,
        );
        wire(socket, raw, this.track(ch), this.gate(limits.budget));
        resolve(ch);
      };
      socket.on('upgrade', onUpgrade).on('error', onError).on('close', onClose).on('open', onOpen);
    });
  }

  /** A client `WebSocket` to `url` with this medium's limits and TLS settings. */
  private openSocket(url: string, timeoutMs: number): WebSocket {
    const o = this.tls;
    try {
      return new WebSocket(url, {
        maxPayload: this.maxFrameBytes,
        perMessageDeflate: false,
        handshakeTimeout: timeoutMs,
        ...(o?.ca !== undefined ? { ca: o.ca } : {}),
        ...(o?.cert !== undefined ? { cert: o.cert } : {}),
        ...(o?.key !== undefined ? { key: o.key } : {}),
        ...(o?.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
        ...(o?.servername !== undefined ? { servername: o.servername } : {}),
        ...(o ? { rejectUnauthorized: o.rejectUnauthorized ?? true } : {}),
      });
    } catch (err) {
      throw new PsError(PsErrorCode.CONFIG, `cannot dial ${url}: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
  }

  /** Stops listening and closes every channel (pending sends reject with `PS_ERR_CLOSED`); idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new PsError(PsErrorCode.CLOSED, 'the ws transport was closed');
    for (const s of this.dialing) s.terminate();
    const ends = [...this.channels].map((ch) => {
      ch.goAway(err);
      return new Promise<void>((r) => ch.onEnd(r));
    });
    const { http, wss } = this;
    const listener =
      http && wss
        ? new Promise<void>((resolve) => {
            wss.close(() => {
              http.close(() => resolve());
              http.closeAllConnections();
            });
          })
        : Promise.resolve();
    await Promise.all([...ends, listener]);
    this.refusals.complete();
  }

  /** The HTTP(S) server under the WebSocket server, with the limits on connections before their upgrade. */
  private httpServer(): Server {
    const answer426 = (_req: unknown, res: ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('this is a @ps WebSocket endpoint; connect with a WebSocket client\n');
    };
    const timeouts = { headersTimeout: this.upgradeTimeoutMs, requestTimeout: this.upgradeTimeoutMs };
    const o = this.tls;
    let http: Server;
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
            handshakeTimeout: this.upgradeTimeoutMs,
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
        if (err.code === 'ECONNRESET') return;
        const where = `${socket.remoteAddress}:${socket.remotePort}`;
        const timeout = /timeout/i.test(err.message);
        this.refuse(
          new PsError(
            timeout ? PsErrorCode.HANDSHAKE : PsErrorCode.AUTH,
            timeout
              ? `connection from ${where} did not complete its TLS handshake within ${this.upgradeTimeoutMs} ms; closed`
              : `TLS handshake with ${where} failed (${err.message}); a plain or untrusted peer? closed`,
          ),
        );
      });
    } else {
      http = createHttpServer(timeouts, answer426);
    }
    http.prependListener('connection', (raw: Socket) => this.admit(raw));
    http.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
      // TLS failures were reported by 'tlsClientError' already.
      const tlsFailure = err.code?.startsWith('ERR_SSL_') === true;
      const tlsHello = !o && err.rawPacket !== undefined && err.rawPacket[0] === 0x16;
      if (err.code !== 'ECONNRESET' && !tlsFailure) {
        const where = `${socket.remoteAddress}:${socket.remotePort}`;
        this.refuse(
          new PsError(
            PsErrorCode.HANDSHAKE,
            tlsHello
              ? `connection from ${where} speaks TLS (wss) and this endpoint does not; give every node the same tls options; closed`
              : `connection from ${where} sent bad HTTP (${err.code ?? err.message}); closed`,
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
   * Counts an accepted TCP connection (before TLS): refused past `maxConnections`, or while too
   * many (in all, or from its address) are pending; closed if it does not upgrade within
   * `upgradeTimeoutMs`. A connection is pending from its TCP accept until the message layer
   * raises its channel's frame limit (which it does once the handshake completed) or it closes.
   */
  private admit(raw: Socket): void {
    if (this.closed) {
      raw.destroy();
      return;
    }
    const r = this.limits.accept(raw.remoteAddress ?? 'unknown');
    if (!r.accepted) {
      raw.destroy();
      if (r.report) this.refuse(r.report);
      return;
    }
    const where = `${raw.remoteAddress}:${raw.remotePort}`;
    const timer = setTimeout(() => {
      this.refuse(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `connection from ${where} did not upgrade to a WebSocket within ${this.upgradeTimeoutMs} ms; closed`,
        ),
      );
      raw.destroy();
    }, this.upgradeTimeoutMs);
    timer.unref();
    const key = upgradeKey(raw);
    const pending = { timer, admission: r.admission };
    this.pendingUpgrades.set(key, pending);
    raw.once('close', () => {
      clearTimeout(timer);
      if (this.pendingUpgrades.get(key) === pending) this.pendingUpgrades.delete(key);
      r.admission.closed();
    });
  }
}

/** The key of an accepted socket among the pending upgrades: a TLS socket reports its TCP socket's. */
const upgradeKey = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
