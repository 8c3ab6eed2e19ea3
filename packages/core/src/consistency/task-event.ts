import type { Observable } from 'rxjs';
import type { NodeId } from '../wire/message.js';

/**
 * What happens to a worker's task (a push, pull or pushPull), in order: `issued` when the call
 * returns its timestamp, `sent` when the worker releases it to the servers (after its
 * dependencies allow), `answered` once per server reply, `finished` when the last reply came (or
 * it failed). `wait` and `resume` bracket each `wait(ts)` call: the application is blocked in
 * between. Times are `performance.now()` milliseconds.
 */
export type TaskEvent =
  | { type: 'issued'; ts: number; time: number; op: 'push' | 'pull' | 'pushPull'; deps: readonly number[] }
  | { type: 'sent'; ts: number; time: number /** ms held back by dependencies */; heldMs: number }
  | { type: 'answered'; ts: number; time: number; server: NodeId }
  | {
      type: 'finished';
      ts: number;
      time: number /** ms from sent to finished */;
      durationMs: number;
      ok: boolean;
    }
  | { type: 'wait'; ts: number; time: number }
  | { type: 'resume'; ts: number; time: number };

/** A running sum of the time a worker spent blocked in `wait`, derived from its task events. */
export interface IdleMeter {
  /** Milliseconds during which at least one `wait` was pending. */
  idleMs(): number;
  stop(): void;
}

/**
 * Measures a worker's idle time from its `events$`: the union of the intervals in which at
 * least one `wait(ts)` was pending (waiting on dependencies or answers), so concurrent waits
 * count once.
 */
export function measureIdle(events$: Observable<TaskEvent>): IdleMeter {
  let waiting = 0;
  let since = 0;
  let total = 0;
  const sub = events$.subscribe((e) => {
    if (e.type === 'wait') {
      if (waiting++ === 0) since = e.time;
    } else if (e.type === 'resume') {
      if (waiting > 0 && --waiting === 0) total += e.time - since;
    }
  });
  return {
    idleMs: () => total + (waiting > 0 ? performance.now() - since : 0),
    stop: () => sub.unsubscribe(),
  };
}
