/**
 * @ps/transport-ws for browsers: only the client transport on the platform `WebSocket`; nothing
 * here imports a Node module. (Node gets `./index.js`, which also has the `ws` server transport.)
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
