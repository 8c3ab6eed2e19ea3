/**
 * @ps/transport-ws: the WebSocket transport. `ws()` on Node (server and client, on the `ws`
 * library) and `wsBrowser()` on the platform `WebSocket` (client only, for workers in a browser
 * tab). Bundlers resolving the "browser" condition get `./browser.js`, which has only the latter.
 */

export { HELLO_MAX_BYTES } from '@ps/core';
export {
  BrowserWsFrameTransport,
  type BrowserWsFrameTransportOptions,
} from './browser-ws-frame-transport.js';
export {
  BrowserWsTransport,
  type BrowserWsTransportOptions,
  type WebSocketConstructorLike,
  type WebSocketLike,
  wsBrowser,
} from './browser-ws-transport.js';
export { MAX_POLL_INTERVAL_MS } from './internal/ws-channel.js';
export { WsFrameTransport, type WsFrameTransportOptions } from './ws-frame-transport.js';
export type { WsTlsOptions } from './ws-tls-options.js';
export { WsTransport, type WsTransportOptions, ws } from './ws-transport.js';
