import type { KVPairs, ValArray } from '../wire/kv-pairs.js';
import { largeBufferPool } from '../wire/large-buffer-pool.js';

/** What {@link releaseAnswerFrames} reads of a worker's slice. */
export interface AnsweredSlice {
  /** The pooled buffer of the answer frame, when the answer alone held it (`ownedFrameOf`). */
  frame?: ArrayBuffer;
  vals?: ValArray;
  lens?: Int32Array;
}

/**
 * Gives the answer frames of a finished pull back to `largeBufferPool`, where the pull's result
 * holds no view of them: its values were copied into the caller's `into`, or into a fresh array
 * joining several servers' answers. A frame whose values (or lengths) are the result itself is
 * kept: the caller reads it. Each released slice drops its `vals` and `lens` (views of the
 * frame), so nothing of the task reads the buffer after the pool hands it out again.
 */
export function releaseAnswerFrames(slices: readonly AnsweredSlice[], result: KVPairs): void {
  for (const s of slices) {
    const f = s.frame;
    if (f === undefined) continue;
    s.frame = undefined;
    if (result.vals.buffer === f || result.lens?.buffer === f || result.keys.buffer === f) continue;
    s.vals = undefined;
    s.lens = undefined;
    largeBufferPool.release(f);
  }
}
