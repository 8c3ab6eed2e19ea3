import type { MessagePort } from 'node:worker_threads';
import { MessageLayer, type MessageLayerOptions } from '@ps/core';
import { INPROC_LAYER_DEFAULTS } from './inproc-transport.js';
import { ThreadFrameTransport } from './thread-frame-transport.js';

/**
 * Options of {@link threads}: the message layer's (secret, limits, timeouts; see
 * `MessageLayerOptions` in `@ps/core`, with the in-process defaults of `InprocTransportOptions`)
 * and the medium's own.
 */
export interface ThreadTransportOptions extends MessageLayerOptions {
  /** This transport's port to a {@link ThreadHub} (`hub.connectPort()`); one port per transport. */
  port: MessagePort;
  /**
   * Flow control: bytes sent on one link and not yet read by the receiving thread. Past it,
   * sends wait (in order) until the receiver catches up; a single larger frame still goes
   * alone. Default 8 MiB.
   */
  maxBytesInFlight?: number;
}

/**
 * The worker-threads transport: core's `MessageLayer` over {@link ThreadFrameTransport},
 * between transports of any threads of one process that share a {@link ThreadHub}. A frame's
 * parts are copied once into one new `ArrayBuffer`, transferred (not cloned) to the other thread
 * and decoded there into views.
 */
export class ThreadTransport extends MessageLayer {
  /** @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes, or limits that are not positive. */
  constructor(opts: ThreadTransportOptions) {
    const { port, maxBytesInFlight, ...layer } = opts;
    super(
      new ThreadFrameTransport({
        port,
        ...(maxBytesInFlight !== undefined ? { maxBytesInFlight } : {}),
        ...(opts.maxFrameBytes !== undefined ? { maxFrameBytes: opts.maxFrameBytes } : {}),
      }),
      { ...INPROC_LAYER_DEFAULTS, ...layer },
    );
  }
}

/**
 * Makes a worker-threads transport on a port from {@link ThreadHub.connectPort}:
 * `createWorker({ transport: threads({ port: workerData.port }), ... })`.
 * @throws PsError `PS_ERR_CONFIG` as {@link ThreadTransport}'s constructor.
 */
export function threads(opts: ThreadTransportOptions): ThreadTransport {
  return new ThreadTransport(opts);
}
