import {
  isIteration,
  type ProgressClock,
  progressClockToWire,
  type WireProgressClock,
} from '../consistency/progress-clock.js';
import type { NodeId } from '../wire/message.js';
import type { ClusterView } from './cluster-view.js';

/**
 * What a worker sends the scheduler: "I finished iteration `t`" (`v`: the last clock version it
 * saw; `done`: it has no iteration left, and leaves the clock).
 */
export interface ProgressReport {
  t: number;
  v?: number;
  done?: boolean;
}

/** Reads a report's body; undefined for a malformed one (which the scheduler drops). */
export function progressReportFromWire(body: unknown): ProgressReport | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const { t, v, done } = body as { t?: unknown; v?: unknown; done?: unknown };
  if (!isIteration(t)) return undefined;
  return {
    t,
    ...(Number.isSafeInteger(v) && (v as number) >= 0 ? { v: v as number } : {}),
    ...(done === true ? { done: true } : {}),
  };
}

/**
 * The scheduler's side of the workers' progress clocks ({@link ProgressClock}): it takes the
 * workers' "finished iteration t" reports, keeps one entry per live worker of the newest view
 * (a dead worker's entry goes, a joining worker's starts at the minimum), and sends the clock to
 * every live worker whenever it changes. A worker done with its iterations (`done`) leaves the
 * clock as a dead one does, so that a worker with more iterations is not held back. Reports that arrive in one turn of the event loop go out
 * as one clock.
 *
 * A restarted scheduler (`recover`) learns the clock again from the workers' re-registrations:
 * each carries the worker's last finished iteration and the last clock version it saw, so the
 * versions continue past it.
 */
export class ProgressKeeper {
  private readonly finished = new Map<NodeId, number>();
  /** Workers done with their iterations: never on the clock again. */
  private readonly retired = new Set<NodeId>();
  /** Live workers of the newest view; undefined before the first view (or while recovering). */
  private live: ReadonlySet<NodeId> | undefined;
  private version = 0;
  private scheduled = false;

  /** `send`: delivers a clock to one worker (the scheduler's control message). */
  constructor(private readonly send: (to: NodeId, clock: WireProgressClock) => void) {}

  /** The current clock (its version is the last one sent). */
  get clock(): ProgressClock {
    return { version: this.version, finished: Object.fromEntries(this.finished) };
  }

  /**
   * A worker's report: its entry becomes at least `t` (entries never go back). Ignored for a
   * worker that is not live in the newest view.
   */
  report(id: NodeId, r: ProgressReport): void {
    if (r.v !== undefined && r.v > this.version) this.version = r.v;
    if (this.live && !this.live.has(id)) return;
    if (r.done) {
      if (this.retired.has(id)) return;
      this.retired.add(id);
      this.finished.delete(id);
      if (this.live) this.schedule();
      return;
    }
    if (this.retired.has(id)) return;
    const before = this.finished.get(id);
    if (before !== undefined && before >= r.t) return;
    this.finished.set(id, r.t);
    if (this.live) this.schedule();
  }

  /**
   * A live worker registered again (after a lost link, or with a restarted scheduler): its report,
   * if it carries one, then the current clock, which the link may have dropped.
   */
  rejoined(id: NodeId, r: ProgressReport | undefined): void {
    if (r) this.report(id, r);
    if (this.live?.has(id) && !this.scheduled) this.send(id, progressClockToWire(this.clock));
  }

  /** A new view: entries follow its live workers; a change goes out to them. */
  onView(view: ClusterView): void {
    const live = new Set(view.workers.filter((w) => !view.dead.includes(w.id)).map((w) => w.id));
    const first = this.live === undefined;
    this.live = live;
    let changed = first;
    for (const id of [...this.finished.keys()]) {
      if (!live.has(id)) {
        this.finished.delete(id);
        changed = true;
      }
    }
    let min = Number.POSITIVE_INFINITY;
    for (const t of this.finished.values()) min = Math.min(min, t);
    for (const id of live) {
      if (this.finished.has(id) || this.retired.has(id)) continue;
      // A joining worker starts at the minimum: it does not hold back the ones already running.
      this.finished.set(id, min === Number.POSITIVE_INFINITY ? 0 : min);
      changed = true;
    }
    if (changed) this.schedule();
  }

  /** Sends the clock once the reports of this turn are in. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const live = this.live;
      if (!live) return;
      this.version++;
      const wire = progressClockToWire(this.clock);
      for (const id of live) this.send(id, wire);
    });
  }
}
