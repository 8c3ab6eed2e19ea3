/**
 * The WebSocket transport for a browser tab (or any runtime with a WHATWG `WebSocket`). It
 * imports nothing from Node: only '@ps/core', 'rxjs' and the platform-neutral base.
 */
import { type BindOptions, type NodeAddress, PsError, PsErrorCode } from '@ps/core';
import type { WebSocketConstructorLike } from './websocket-like.js';
import { type SocketAdapter, type SocketHandlers, type WsBaseOptions, WsTransportBase } from './ws-base.js';

export type { WebSocketConstructorLike, WebSocketLike } from './websocket-like.js';

/** Options of {@link wsBrowser}. */
export interface BrowserWsTransportOptions extends WsBaseOptions {
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
}

const OPEN = 1;
const CLOSED = 3;

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
 * The client side of the WebSocket transport on the platform `WebSocket` (binaryType
 * 'arraybuffer'), for workers in a browser tab. Same protocol and semantics as the Node `ws()`
 * transport (hello first, one binary message per frame, reconnect within `reconnectWindowMs`,
 * PsError codes, events$), with these differences, all owed to the platform API:
 * - it cannot listen: `bind` accepts only `{ listen: false }` (else `PS_ERR_CONFIG`);
 * - a multi-part frame is copied into one buffer (the platform API has no fragments);
 * - a send resolves once the browser took the message; backpressure polls `bufferedAmount`
 *   (every 1 ms, doubling up to 50 ms) while it is above `highWaterMarkBytes`;
 * - `maxFrameBytes` is checked after a message arrived (the platform cannot refuse it earlier);
 * - a failed connection gives no reason, so a non-@ps endpoint is retried until
 *   `connectTimeoutMs` like an unreachable one, unless it answers the upgrade with no hello;
 * - sockets cannot be terminated: one that does not close within 1 s is abandoned.
 */
export class BrowserWsTransport extends WsTransportBase {
  readonly kind = 'ws-browser';
  private readonly WebSocketCtor: WebSocketConstructorLike | undefined;
  private readonly secure: boolean;

  /**
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes or a runtime without
   *   WebCrypto (a page that is not a secure context), or limits that are not positive numbers.
   */
  constructor(opts: BrowserWsTransportOptions = {}) {
    super(opts);
    this.WebSocketCtor =
      opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket ?? undefined;
    this.secure = opts.secure ?? false;
  }

  protected override get scheme(): 'ws' | 'wss' {
    return this.secure ? 'wss' : 'ws';
  }

  async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    this.assertOpen();
    if (options.listen !== false) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'a browser cannot listen for connections: bind with { listen: false } and connect() to a server',
      );
    }
    this.self = self.id;
    return { ...self, port: 0 };
  }

  protected openSocket(url: string, handlers: SocketHandlers): SocketAdapter {
    const Ctor = this.WebSocketCtor;
    if (!Ctor) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'no WebSocket in this runtime; pass one: wsBrowser({ WebSocket }) (on Node, `ws`)',
      );
    }
    const maxFrameBytes = this.maxFrameBytes;
    const socket = new Ctor(url);
    socket.binaryType = 'arraybuffer';
    let opened = false;
    let maxPayload = maxFrameBytes;
    socket.onopen = () => {
      opened = true;
      handlers.open();
    };
    socket.onmessage = (ev) => {
      const { data } = ev;
      if (!(data instanceof ArrayBuffer)) {
        handlers.message(undefined);
        return;
      }
      if (data.byteLength > maxPayload) {
        handlers.error(
          new PsError(
            PsErrorCode.FRAME_TOO_LARGE,
            `peer sent a message of ${data.byteLength} bytes, above ${maxPayload}; connection closed`,
          ),
        );
        return;
      }
      handlers.message(new Uint8Array(data));
    };
    socket.onerror = () => {
      // The platform says nothing about why; before the open it is a failed connection.
      if (!opened) handlers.error(new PsError(PsErrorCode.PEER_UNREACHABLE, `cannot connect to ${url}`));
    };
    socket.onclose = () => {
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      handlers.close();
    };
    return {
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      get isOpen() {
        return socket.readyState === OPEN;
      },
      get isClosed() {
        return socket.readyState === CLOSED;
      },
      send(parts, total, done) {
        socket.send(join(parts, total));
        done();
      },
      // A browser may close only with 1000 or 3000-4999: other codes become 4000 + code.
      close: (code, reason) => socket.close(code === 1000 ? code : 4000 + (code % 1000), reason),
      terminate: () => {
        try {
          socket.close();
        } catch {
          // already closing
        }
      },
      setMaxPayload(bytes) {
        maxPayload = bytes;
      },
    };
  }
}

/** Makes a WebSocket transport for a browser worker: `createWorker({ transport: wsBrowser(), ... })`. */
export function wsBrowser(opts: BrowserWsTransportOptions = {}): BrowserWsTransport {
  return new BrowserWsTransport(opts);
}
