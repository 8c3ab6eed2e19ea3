/**
 * The WebSocket medium for a browser tab (or any runtime with a WHATWG `WebSocket`). It imports
 * nothing from Node: only '@ps/core', 'rxjs' and the shared channel.
 */
import {
  DEFAULT_MAX_FRAME_BYTES,
  type FrameAddress,
  type FrameChannel,
  type FrameChannelLimits,
  type FrameTransport,
  PsError,
  PsErrorCode,
} from '@ps/core';
import { DEFAULT_HIGH_WATER_MARK_BYTES, type SocketAdapter, WsChannel } from './internal/ws-channel.js';
import { wsUrl } from './internal/ws-url.js';
import type { WebSocketConstructorLike, WebSocketLike } from './websocket-like.js';

/** Options of {@link BrowserWsFrameTransport}. */
export interface BrowserWsFrameTransportOptions {
  /** Largest frame (one WebSocket message) sent or accepted, in bytes. Default 512 MiB. */
  maxFrameBytes?: number;
  /** Sends wait while the socket's `bufferedAmount` is above this many bytes. Default 1 MiB. */
  highWaterMarkBytes?: number;
  /** Path of the WebSocket endpoint (the URL is `ws://host:port<path>`). Default `/`. */
  path?: string;
  /**
   * The `WebSocket` constructor. Default: `globalThis.WebSocket` (every browser; Node 22+). Tests
   * on Node 20 pass `ws`'s, cast to {@link WebSocketConstructorLike}.
   */
  WebSocket?: WebSocketConstructorLike;
  /**
   * Dial `wss://` URLs (TLS; the browser checks the server's certificate against its own
   * authorities). Default false; a page served over https must set it (browsers block `ws://`).
   */
  secure?: boolean;
}

const OPEN = 1;

/** Copies the parts of a frame into one buffer: the platform `WebSocket` sends whole messages only. */
function join(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Adapts a platform socket. A browser may send only close codes 1000 and 3000-4999, so a code
 * 10xx goes out as 40xx (the channel reads 40xx as 10xx). It cannot be terminated: `terminate`
 * closes, and the channel gives up on a socket that does not close within a second.
 */
function adapt(socket: WebSocketLike): SocketAdapter {
  return {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get isOpen() {
      return socket.readyState === OPEN;
    },
    send(parts, total, done) {
      socket.send(join(parts, total));
      done();
    },
    close: (code, reason) => socket.close(code === 1000 ? code : 4000 + (code % 1000), reason),
    terminate: () => {
      try {
        socket.close();
      } catch {
        // closing already
      }
    },
    setMaxPayload: () => undefined, // the channel checks each message's size as it arrives
  };
}

/**
 * The WebSocket medium on the platform `WebSocket` (binaryType 'arraybuffer'): core's
 * `FrameTransport`, dial only, for workers in a browser tab; the server side runs
 * {@link WsFrameTransport}. One binary message is one frame. Differences owed to the platform:
 * - it cannot listen (`PS_ERR_CONFIG`);
 * - a multi-part frame is copied into one buffer (the platform API sends whole messages);
 * - a send resolves once the browser took the message; backpressure polls `bufferedAmount`;
 * - the frame size limit is checked once a message arrived (the browser gathered it already);
 * - a failed connection carries no reason: every dial failure is `PS_ERR_PEER_UNREACHABLE`;
 * - `source` is the host dialed (a page cannot see the remote IP).
 */
export class BrowserWsFrameTransport implements FrameTransport {
  readonly kind = 'ws-browser';
  readonly maxFrameBytes: number;
  private readonly highWaterMarkBytes: number;
  private readonly path: string;
  private readonly WebSocketCtor: WebSocketConstructorLike | undefined;
  private readonly secure: boolean;
  private readonly channels = new Set<WsChannel>();
  private readonly dialing = new Set<WebSocketLike>();
  private closed = false;

  /** @throws PsError `PS_ERR_CONFIG` for limits that are not positive numbers. */
  constructor(opts: BrowserWsFrameTransportOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.highWaterMarkBytes = opts.highWaterMarkBytes ?? DEFAULT_HIGH_WATER_MARK_BYTES;
    this.path = opts.path ?? '/';
    this.WebSocketCtor =
      opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket ?? undefined;
    this.secure = opts.secure ?? false;
    if (!(this.maxFrameBytes > 0) || !(this.highWaterMarkBytes >= 0)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `maxFrameBytes must be > 0 and highWaterMarkBytes >= 0; got ${this.maxFrameBytes}, ${this.highWaterMarkBytes}`,
      );
    }
  }

  /** @throws PsError `PS_ERR_CONFIG`, always: a browser cannot listen; dial a server instead. */
  async listen(): Promise<FrameAddress> {
    throw new PsError(
      PsErrorCode.CONFIG,
      'a browser cannot listen for connections: dial a server (a node on the Node ws transport) instead',
    );
  }

  /**
   * Opens one WebSocket to `at` (`wss://` with `secure`).
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (refused, closed, or `timeoutMs` passed: the
   *   platform gives no reason), `PS_ERR_CONFIG` (no `WebSocket` in this runtime, or a bad URL),
   *   `PS_ERR_CLOSED` (this transport closed).
   */
  async dial(at: FrameAddress, limits: FrameChannelLimits, timeoutMs: number): Promise<FrameChannel> {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the ws-browser transport is closed');
    const Ctor = this.WebSocketCtor;
    if (!Ctor) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'no WebSocket in this runtime; pass one: { WebSocket } (on Node 20, the `ws` package’s)',
      );
    }
    const url = wsUrl(at, this.path, this.secure ? 'wss' : 'ws');
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url);
    } catch (err) {
      throw new PsError(PsErrorCode.CONFIG, `cannot dial ${url}: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
    socket.binaryType = 'arraybuffer';
    this.dialing.add(socket);
    return new Promise<FrameChannel>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        this.dialing.delete(socket);
        socket.onopen = socket.onerror = socket.onclose = socket.onmessage = null;
        try {
          socket.close();
        } catch {
          // not open yet
        }
        reject(
          this.closed
            ? new PsError(PsErrorCode.CLOSED, 'the ws-browser transport is closed')
            : new PsError(PsErrorCode.PEER_UNREACHABLE, `cannot connect to ${url}: ${why}`),
        );
      };
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      socket.onerror = () => fail('the connection failed (a browser gives no reason)');
      socket.onclose = () => fail('closed before it opened');
      socket.onopen = () => {
        clearTimeout(timer);
        this.dialing.delete(socket);
        if (this.closed) {
          fail('this transport closed');
          return;
        }
        const ch = new WsChannel(
          adapt(socket),
          at.host,
          this.maxFrameBytes,
          limits.maxFrameBytes,
          this.highWaterMarkBytes,
          `${at.host}:${at.port}`,
        );
        this.channels.add(ch);
        ch.onEnd(() => this.channels.delete(ch));
        socket.onmessage = (ev) =>
          ch.received(ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : undefined);
        socket.onerror = () => undefined; // the close event follows, with the code
        socket.onclose = (ev) => {
          socket.onopen = socket.onerror = socket.onclose = socket.onmessage = null;
          ch.ended(ev.code ?? 1006, ev.reason ?? '');
        };
        resolve(ch);
      };
    });
  }

  /** Closes every channel (pending sends reject with `PS_ERR_CLOSED`); idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new PsError(PsErrorCode.CLOSED, 'the ws-browser transport was closed');
    for (const s of this.dialing) s.close();
    this.dialing.clear();
    await Promise.all(
      [...this.channels].map((ch) => {
        ch.goAway(err);
        return new Promise<void>((r) => ch.onEnd(r));
      }),
    );
  }
}
