import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { KeyCoalescer } from '../internal/key-coalescer.js';

/**
 * Cuts a stream of updated-key arrays into batches by time and by size.
 *
 * Keys are coalesced: a key updated several times before its batch is cut appears once. A
 * batch is cut `intervalMs` after the first key that follows the previous batch, or at once
 * when `maxKeys` keys (counted with repeats until they are merged) are held; each batch holds at
 * most `maxKeys` keys, strictly increasing (more held are cut into several batches, in key
 * order). When the source completes, what is held is emitted, then the stream completes.
 *
 * Emission is synchronous and nothing is queued here: what a subscriber holds while it works
 * is its own (for a slow consumer, `KVServer.subscribeUpdates` coalesces instead).
 *
 * @param opts `maxKeys` (keys per batch, ≥ 1) and `intervalMs` (ms, ≥ 0); validate them first
 *   with `resolveUpdatesOptions`.
 * @param scheduler Where the interval is timed (`asyncScheduler`; a `TestScheduler` in tests).
 * @return An operator from updated-key arrays (any order, repeats allowed) to sorted batches.
 */
export function batchKeys(
  opts: { maxKeys: number; intervalMs: number },
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<BigUint64Array, BigUint64Array> {
  const { maxKeys, intervalMs } = opts;
  return (source) =>
    new Observable<BigUint64Array>((out) => {
      const held = new KeyCoalescer(maxKeys);
      let timer: Subscription | undefined;
      const flush = () => {
        timer?.unsubscribe();
        timer = undefined;
        while (held.size > 0) {
          const batch = held.take(maxKeys);
          if (batch.length > 0) out.next(batch);
        }
      };
      const sub = source.subscribe({
        next(keys) {
          held.add(keys);
          if (held.size >= maxKeys) flush();
          else if (!timer && held.size > 0) timer = scheduler.schedule(flush, intervalMs);
        },
        error(err) {
          timer?.unsubscribe();
          out.error(err);
        },
        complete() {
          flush();
          out.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        timer?.unsubscribe();
      };
    });
}
