/**
 * The WebSocket transport for a browser tab (or any runtime with a WHATWG `WebSocket`). It
 * imports nothing from Node: only '@ps/core', 'rxjs' and the browser medium.
 */
import {
  type BindOptions,
  MessageLayer,
  type MessageLayerOptions,
  type NodeAddress,
  PsError,
  PsErrorCode,
} from '@ps/core';
import { BrowserWsFrameTransport } from './browser-ws-frame-transport.js';
import type { WebSocketConstructorLike } from './websocket-like.js';

export type { WebSocketConstructorLike, WebSocketLike } from './websocket-like.js';

/** Options of {@link wsBrowser}: the message layer's, and the browser medium's own. */
export interface BrowserWsTransportOptions extends MessageLayerOptions {
  /**
   * The `WebSocket` constructor. Default: `globalThis.WebSocket` (every browser; Node 22+). Tests
   * on Node 20 pass `ws`'s: `wsBrowser({ WebSocket: WS as unknown as WebSocketConstructorLike })`.
   */
  WebSocket?: WebSocketConstructorLike;
  /**
   * Dial `wss://` URLs (TLS; the server runs `ws({ tls })`). The browser checks the server's
   * certificate against its own trusted authorities. Default false (`ws://`); a page served over
   * https must set it (browsers block `ws://` from https pages).
   */
  secure?: boolean;
  /** Path of the WebSocket endpoint (the URL is `ws://host:port<path>`). Default `/`. */
  path?: string;
  /** Sends wait while the socket's `bufferedAmount` is above this many bytes. Default 1 MiB. */
  highWaterMarkBytes?: number;
}

/**
 * The client side of the WebSocket transport for workers in a browser tab: core's
 * `MessageLayer` over {@link BrowserWsFrameTransport} (the platform `WebSocket`). Same
 * protocol and semantics as the Node `ws()` transport, except that it cannot listen (`bind`
 * accepts only `{ listen: false }`, else `PS_ERR_CONFIG`) and what the platform API imposes (see
 * {@link BrowserWsFrameTransport}).
 */
export class BrowserWsTransport extends MessageLayer {
  /**
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes or a runtime without
   *   WebCrypto (a page that is not a secure context), or limits that are not positive numbers.
   */
  constructor(opts: BrowserWsTransportOptions = {}) {
    const { WebSocket, secure, path, highWaterMarkBytes, ...layer } = opts;
    super(
      new BrowserWsFrameTransport({
        ...(WebSocket !== undefined ? { WebSocket } : {}),
        ...(secure !== undefined ? { secure } : {}),
        ...(path !== undefined ? { path } : {}),
        ...(highWaterMarkBytes !== undefined ? { highWaterMarkBytes } : {}),
        ...(opts.maxFrameBytes !== undefined ? { maxFrameBytes: opts.maxFrameBytes } : {}),
      }),
      layer,
    );
  }

  /** Sets this node's id. @throws PsError `PS_ERR_CONFIG` unless `{ listen: false }`: a browser cannot listen. */
  override async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    if (options.listen !== false) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'a browser cannot listen for connections: bind with { listen: false } and connect() to a server',
      );
    }
    return super.bind(self, options);
  }
}

/** Makes a WebSocket transport for a browser worker: `createWorker({ transport: wsBrowser(), ... })`. */
export function wsBrowser(opts: BrowserWsTransportOptions = {}): BrowserWsTransport {
  return new BrowserWsTransport(opts);
}
