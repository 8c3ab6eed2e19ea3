import { PsError, PsErrorCode } from '../errors.js';

/**
 * Default most bytes queued for sending on one connection (`maxQueuedBytes`): 256 MiB, twice what
 * the benchmarks' heaviest run queues (8 requests of 1,000,000 keys in flight, 8 x 16 MB).
 */
export const DEFAULT_MAX_QUEUED_BYTES = 256 * 1024 * 1024;

/**
 * The `maxQueuedBytes` limit of one connection: true when a frame of `frameBytes` would put more
 * than `maxQueuedBytes` in the connection's outbound queue, `queuedBytes` being what it holds
 * already (frames waiting for the socket, and bytes the socket has not yet handed to the kernel).
 * A peer that does not read its answers is then disconnected with {@link slowPeerError}, instead
 * of this node buffering for it without end. A frame alone larger than the limit is let through
 * when the queue is empty, so the limit never refuses a frame `maxFrameBytes` allows.
 */
export function overQueueLimit(queuedBytes: number, frameBytes: number, maxQueuedBytes: number): boolean {
  return queuedBytes > 0 && queuedBytes + frameBytes > maxQueuedBytes;
}

/** The `PS_ERR_SLOW_PEER` error for a peer disconnected at the `maxQueuedBytes` limit. */
export function slowPeerError(peer: string, queuedBytes: number, maxQueuedBytes: number): PsError {
  return new PsError(
    PsErrorCode.SLOW_PEER,
    `${peer} does not read what this node sends: ${queuedBytes} bytes are queued for it, and the next frame would pass maxQueuedBytes (${maxQueuedBytes}); connection closed. If the peer is yours, raise maxQueuedBytes or keep fewer requests in flight`,
    { peer, bytes: queuedBytes, max: maxQueuedBytes },
  );
}
