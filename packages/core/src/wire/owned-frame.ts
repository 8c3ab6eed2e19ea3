import type { Filter } from './filter.js';
import { largeBufferPool } from './large-buffer-pool.js';
import type { Message } from './message.js';

/** Messages that are the only holder of their received frame's pooled buffer. */
const owned = new WeakMap<Message, ArrayBuffer>();

/**
 * Records, on receipt, that `msg` is the only holder of the pooled buffer (`largeBufferPool`) of
 * the frame it was decoded from: true when `frame` is one whole buffer the pool gave out (a
 * stream medium gathered it: `FrameReader`), and every filter that decoded it promises to keep
 * no view of a message (`Filter.retainsNoViews`). The views of the frame are then the
 * message's segments and any binary field of its meta (msgpack decodes those as views), so
 * whoever consumes the message may give the buffer back once it has copied out what it needs and
 * dropped the message ({@link ownedFrameOf}).
 */
export function markOwnedFrame(
  msg: Message,
  frame: Uint8Array | readonly Uint8Array[],
  chain: readonly Filter[] | undefined,
): void {
  if (!(frame instanceof Uint8Array) || frame.byteOffset !== 0 || !largeBufferPool.owns(frame)) return;
  if (chain !== undefined && !chain.every((f) => f.retainsNoViews === true)) return;
  owned.set(msg, frame.buffer as ArrayBuffer);
}

/**
 * The pooled buffer `msg` alone holds (see {@link markOwnedFrame}), or undefined. The ownership
 * rule: release it to `largeBufferPool` only when no view of it (the message's segments, or
 * anything made from them without a copy) is referenced any more, since the pool hands it out
 * again at once. Not releasing is always safe.
 */
export function ownedFrameOf(msg: Message): ArrayBuffer | undefined {
  return owned.get(msg);
}
