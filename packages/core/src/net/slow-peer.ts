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
 * of this node buffering for it without end; on a connection this node dialed, only the send is
 * refused. A frame alone larger than the limit is let through
 * when the queue is empty, so the limit never refuses a frame `maxFrameBytes` allows.
 */
export function overQueueLimit(queuedBytes: number, frameBytes: number, maxQueuedBytes: number): boolean {
  return queuedBytes > 0 && queuedBytes + frameBytes > maxQueuedBytes;
}

/**
 * The `PS_ERR_SLOW_PEER` error at the `maxQueuedBytes` limit. `closed`: the connection was closed
 * (an accepted one: this node was answering a peer that does not read); otherwise only this send
 * is refused (a dialed one: this node's own requests outran the peer; what is queued still goes).
 */
export function slowPeerError(
  peer: string,
  queuedBytes: number,
  maxQueuedBytes: number,
  closed = true,
): PsError {
  return new PsError(
    PsErrorCode.SLOW_PEER,
    closed
      ? `${peer} does not read what this node sends: ${queuedBytes} bytes are queued for it, and the next frame would pass maxQueuedBytes (${maxQueuedBytes}); connection closed. If the peer is yours, raise maxQueuedBytes or keep fewer requests in flight`
      : `${queuedBytes} bytes are already queued for ${peer}, and this frame would pass maxQueuedBytes (${maxQueuedBytes}); this send is refused (the connection stays). Keep fewer large requests in flight, or raise maxQueuedBytes`,
    { peer, bytes: queuedBytes, max: maxQueuedBytes, closed },
  );
}
