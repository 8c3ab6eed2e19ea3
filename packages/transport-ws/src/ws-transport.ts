import { MessageLayer, type MessageLayerOptions, type TransportEvent } from '@ps/core';
import { map, merge, type Observable } from 'rxjs';
import { WsFrameTransport } from './ws-frame-transport.js';
import type { WsTlsOptions } from './ws-tls-options.js';

export type { WsTlsOptions } from './ws-tls-options.js';

/**
 * Options of {@link ws}: the message layer's (secret, limits, timeouts; see `MessageLayerOptions`
 * in `@ps/core`) and the WebSocket medium's own (`tls`, `path`, `highWaterMarkBytes`).
 */
export interface WsTransportOptions extends MessageLayerOptions {
  /** Speak TLS: listen with HTTPS and dial `wss://` URLs. Default: plain `ws://`. */
  tls?: WsTlsOptions;
  /** Path of the WebSocket endpoint (the URL is `ws://host:port<path>`). Default `/`. */
  path?: string;
  /**
   * Sends wait while the socket's `bufferedAmount` is above this many bytes. Default 1 MiB. At
   * most this plus one frame is buffered per connection; further frames wait in order.
   */
  highWaterMarkBytes?: number;
}

/**
 * The WebSocket transport on Node: core's `MessageLayer` (handshake, authentication, peer
 * table, reconnection, limits) over {@link WsFrameTransport} (`ws`; one binary message a frame;
 * HTTPS and `wss://` with the `tls` option). The pending-handshake caps, `maxConnections` and
 * `helloTimeoutMs` also hold for TCP connections that have not upgraded yet; what the medium
 * refuses before an upgrade (bad HTTP, a failed TLS handshake, no upgrade in time, a cap) is
 * reported on `events$` with the layer's own reports.
 */
export class WsTransport extends MessageLayer {
  declare readonly events$: Observable<TransportEvent>;

  /**
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes, or limits that are not
   *   positive numbers.
   */
  constructor(opts: WsTransportOptions = {}) {
    const { tls, path, highWaterMarkBytes, ...layer } = opts;
    const medium = new WsFrameTransport({
      ...(tls !== undefined ? { tls } : {}),
      ...(path !== undefined ? { path } : {}),
      ...(highWaterMarkBytes !== undefined ? { highWaterMarkBytes } : {}),
      ...(opts.maxFrameBytes !== undefined ? { maxFrameBytes: opts.maxFrameBytes } : {}),
      ...(opts.helloTimeoutMs !== undefined ? { upgradeTimeoutMs: opts.helloTimeoutMs } : {}),
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxPendingHandshakes !== undefined ? { maxPendingUpgrades: opts.maxPendingHandshakes } : {}),
      ...(opts.maxPendingHandshakesPerSource !== undefined
        ? { maxPendingUpgradesPerSource: opts.maxPendingHandshakesPerSource }
        : {}),
    });
    super(medium, layer);
    const refused = medium.refusals$.pipe(map((error): TransportEvent => ({ type: 'error', error })));
    this.events$ = merge(this.events$, refused);
  }
}

/** Makes a WebSocket transport for Node: `createServer({ transport: ws({ secret }), ... })`. */
export function ws(opts: WsTransportOptions = {}): WsTransport {
  return new WsTransport(opts);
}
