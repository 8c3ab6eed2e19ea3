import { MessageLayer, type MessageLayerOptions } from '@ps/core';
import { InprocFrameTransport } from './inproc-frame-transport.js';
import type { InprocHub } from './inproc-hub.js';

/**
 * Options of {@link inproc}: the message layer's (secret, limits, timeouts; see
 * `MessageLayerOptions` in `@ps/core`) and the hub. In-process defaults differ from the layer's
 * in four: `connectTimeoutMs` and `reconnectWindowMs` are 2,000 ms (a peer of this thread is
 * there at once or not at all), `maxMessagesPerSecond` is off (`Infinity`: no peer in the
 * same thread is a flood to guard against), and so is `busyPollUs` (0: a peer in the same thread
 * has no sleeping core to wake).
 */
export interface InprocTransportOptions extends MessageLayerOptions {
  /** The hub to listen in and look peers up in. Default: {@link defaultInprocHub}. */
  hub?: InprocHub;
}

/** What in-process links change of the message layer's defaults (see {@link InprocTransportOptions}). */
export const INPROC_LAYER_DEFAULTS: MessageLayerOptions = {
  connectTimeoutMs: 2_000,
  reconnectWindowMs: 2_000,
  maxMessagesPerSecond: Number.POSITIVE_INFINITY,
};

/**
 * The in-process transport: core's `MessageLayer` (handshake, authentication, peer table,
 * reconnection, limits) over {@link InprocFrameTransport}, between transports of one thread that
 * share an {@link InprocHub}. A frame reaches the receiver as the sender's very parts array (no
 * byte copied; do not reuse the parts after `send`, which core's encoder never does),
 * asynchronously and in order.
 */
export class InprocTransport extends MessageLayer {
  /** The hub this transport listens in and looks peers up in. */
  readonly hub: InprocHub;

  /** @throws PsError `PS_ERR_CONFIG` for a secret shorter than 16 bytes, or limits that are not positive. */
  constructor(opts: InprocTransportOptions = {}) {
    const { hub, ...layer } = opts;
    const medium = new InprocFrameTransport({
      ...(hub !== undefined ? { hub } : {}),
      ...(opts.maxFrameBytes !== undefined ? { maxFrameBytes: opts.maxFrameBytes } : {}),
    });
    super(medium, { ...INPROC_LAYER_DEFAULTS, busyPollUs: 0, ...layer });
    this.hub = medium.hub;
  }
}

/**
 * Makes an in-process transport: `createWorker({ transport: inproc(), ... })`. Pass one `hub`
 * to the transports of a test to isolate them from other tests.
 * @throws PsError `PS_ERR_CONFIG` as {@link InprocTransport}'s constructor.
 */
export function inproc(opts: InprocTransportOptions = {}): InprocTransport {
  return new InprocTransport(opts);
}
