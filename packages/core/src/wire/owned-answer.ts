import { largeBufferPool } from './large-buffer-pool.js';

/** Answer buffers taken from the pool by a handler that keeps no view of them. */
const answers = new WeakSet<ArrayBuffer>();

/**
 * `bytes` bytes (NOT zeroed) for the values of a handler's answer, from `largeBufferPool`, that
 * the handler hands to the server and forgets: the caller promises to keep no view of them once
 * it returned the answer (the built-in table handler, whose update rule writes into it). The
 * server then gives the buffer back once the answer was written ({@link claimAnswerBuffer}).
 */
export function takeAnswerBuffer(bytes: number): Uint8Array {
  const b = largeBufferPool.take(bytes);
  if (largeBufferPool.owns(b)) answers.add(b.buffer as ArrayBuffer);
  return b;
}

/**
 * The pooled buffer under an answer's values when it came from {@link takeAnswerBuffer} and was
 * not claimed before; it is claimed by this call (a second call returns undefined). The
 * ownership rule: the claimer releases it to `largeBufferPool` only once the answer's send
 * resolved on a transport whose sends resolve after the write (`Transport.sendResolvesAfterWrite`),
 * the message went as an encoded frame (not by reference), and every filter that encoded it keeps
 * no view (`Filter.retainsNoViews`). Not releasing is always safe.
 */
export function claimAnswerBuffer(vals: ArrayBufferView): ArrayBuffer | undefined {
  const ab = vals.buffer as ArrayBuffer;
  if (!answers.delete(ab)) return undefined;
  return ab;
}
