import type { LookupFunction } from 'node:net';
import { MessageLayer, type MessageLayerOptions } from '@ps/core';
import { TcpFrameTransport } from './tcp-frames.js';
import type { TcpTlsOptions } from './tcp-tls-options.js';

/**
 * Options of {@link tcp}: the message layer's (secret, limits, timeouts; see
 * `MessageLayerOptions` in `@ps/core`) and TCP's own (`tls`).
 */
export interface TcpTransportOptions extends MessageLayerOptions {
  /** Largest frame accepted or sent, in bytes. Default 512 MiB (as core's codec). */
  maxFrameBytes?: number;
  /** Speak TLS (`node:tls`) on every connection, listening and dialing. Default: plain TCP. */
  tls?: TcpTlsOptions;
  /** The address to bind (e.g. `0.0.0.0`) while announcing the node's host. Default: that host. */
  listenHost?: string;
  /** Resolves host names at each dial, so each reconnect (default `dns.lookup`). */
  lookup?: LookupFunction;
}

/**
 * The TCP transport: core's `MessageLayer` (handshake, authentication, peer table,
 * reconnection, limits) over {@link TcpFrameTransport} (`node:net`, or `node:tls` with the `tls`
 * option; frames are a u32 little-endian length and the frame's bytes). Bad input (an oversized
 * length, a bad or unauthenticated handshake, a peer over its message rate) closes only the
 * connection it came on.
 */
export class TcpTransport extends MessageLayer {
  /**
   * @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes, or limits that are not
   *   positive numbers.
   */
  constructor(opts: TcpTransportOptions = {}) {
    const { tls, listenHost, lookup, ...layer } = opts;
    super(
      new TcpFrameTransport({
        ...(tls !== undefined ? { tls } : {}),
        ...(listenHost !== undefined ? { listenHost } : {}),
        ...(lookup !== undefined ? { lookup } : {}),
        ...(opts.maxFrameBytes !== undefined ? { maxFrameBytes: opts.maxFrameBytes } : {}),
      }),
      layer,
    );
  }
}

/** Makes a TCP transport: `createWorker({ transport: tcp(), ... })`. */
export function tcp(opts: TcpTransportOptions = {}): TcpTransport {
  return new TcpTransport(opts);
}
