import type { Server } from 'node:http';
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
  PsError,
  PsErrorCode,
  StreamInboundGate,
} from '@ps/core';
import { type Observable, Subject } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import { dialError } from './internal/dial-error.js';
import { listenerServer } from './internal/listener-server.js';
import { DEFAULT_HIGH_WATER_MARK_BYTES, WsChannel } from './internal/ws-channel.js';
import { adapt, wire } from './internal/ws-socket.js';
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

/**
 * The WebSocket medium on Node (`ws`): core's `FrameTransport`. `listen` runs an HTTP (with `tls`:
 * HTTPS) server whose upgrades become channels; `dial` opens a client `WebSocket` (`wss://` with
 * `tls`). One binary WebSocket message is one frame. Before the upgrade, this medium alone guards
 * its port: plain HTTP requests get `426 Upgrade Required`, connections that do not upgrade
 * within `upgradeTimeoutMs` are closed, and `maxConnections` / `maxPendingUpgrades(PerSource)`
 * refuse the excess at once; each refusal is reported on {@link refusals$}. Everything after the
 * upgrade (the `@ps` handshake, authentication, rate limits, reconnects) is the message layer's.
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
    const http = listenerServer({
      tls: this.tls,
      upgradeTimeoutMs: this.upgradeTimeoutMs,
      admit: (raw) => this.admit(raw),
      refuse: (e) => this.refuse(e),
    });
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
