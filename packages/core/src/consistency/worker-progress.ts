import {
  BehaviorSubject,
  filter,
  firstValueFrom,
  type Observable,
  of,
  take,
  throwError,
  timeout,
} from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import type { NodeId } from '../wire/message.js';
import {
  EMPTY_PROGRESS_CLOCK,
  isIteration,
  MAX_ITERATION,
  type ProgressClock,
  progressClockFromWire,
  sameEntries,
  slowestOf,
} from './progress-clock.js';

/** Options of {@link WorkerProgress.waitFor}. */
export interface ProgressWaitOptions {
  /**
   * Reject with `PS_ERR_TIMEOUT` when the bound is not met within this many ms. Default: no
   * limit (a dead worker is dropped from the clock once the scheduler declares it dead, so a
   * wait does not hang on it).
   */
  timeoutMs?: number;
}

/**
 * A worker's side of the cross-worker bounded delay (OSDI 2014, section 3.5, Figure 13; the
 * scheduler's part of Algorithm 1): the worker reports each iteration it finished, and waits,
 * before it starts the next one, until every live worker finished far enough. With delay τ, a
 * worker that finished iteration t starts t + 1 only once every live worker finished t − τ, so no
 * live worker is ever more than τ + 1 iterations ahead of the slowest one. τ = 0 is bulk
 * synchronous (lockstep), τ = Infinity eventual (no wait).
 *
 * The clock ({@link ProgressClock}) lives on the scheduler, which pushes every change to the
 * workers: nothing polls. Workers the scheduler declares dead leave the clock (they hold nobody
 * back, once the heartbeat timeout passed); a worker that joins a running cluster starts at the
 * clock's minimum; one done with its iterations (`done()`, which `finalize()` calls) leaves it
 * too, so that workers with more iterations go on. After a scheduler restart (`recover`) the workers' re-registrations carry
 * their last finished iteration, so the clock comes back whole.
 *
 * Get it from a worker node: `node.progress` (see `PsNode.progress`).
 *
 * @example
 * ```ts
 * for (let t = 1; t <= iterations; t++) {
 *   await node.progress.waitFor(t - 1, tau); // every live worker finished t − 1 − τ
 *   await computeAndPush(t);
 *   node.progress.finish(t);
 * }
 * ```
 */
export class WorkerProgress {
  /**
   * The vector clock of finished iterations per live worker, as the scheduler publishes it: the
   * current clock on subscription (once the first one arrived), then one emission per change.
   * Errors with `PS_ERR_CLOSED` when the node closes.
   */
  readonly clock$: Observable<ProgressClock>;

  /** Emits on every change of entries (a newer version with the same entries is no change). */
  private readonly state$ = new BehaviorSubject<ProgressClock | undefined>(undefined);
  /** The newest clock received, its version included. */
  private current: ProgressClock | undefined;
  /** The last iteration each worker was seen to finish, dead ones included (see `finishedBy`). */
  private readonly last = new Map<NodeId, number>();
  private own = 0;
  private isDone = false;
  private closedBy: PsError | undefined;

  /**
   * @param id this worker's node id.
   * @param report sends "finished iteration t" (and, with `done`, "no iteration left") to the
   *   scheduler, with the last clock version seen (`PsNode` wires it).
   */
  constructor(
    readonly id: NodeId,
    private readonly report: (t: number, version: number, done?: boolean) => void,
  ) {
    this.clock$ = this.state$.asObservable().pipe(filter((c): c is ProgressClock => c !== undefined));
  }

  /** The last clock received ({@link EMPTY_PROGRESS_CLOCK} before the first). */
  get clock(): ProgressClock {
    return this.current ?? EMPTY_PROGRESS_CLOCK;
  }

  /** The last iteration this worker reported finished (0: none). */
  get finished(): number {
    return this.own;
  }

  /**
   * The last iteration worker `id` was seen to finish, also after it died (to resume its data
   * shard from there); undefined for a worker never seen on the clock.
   */
  finishedBy(id: NodeId): number | undefined {
    return this.last.get(id);
  }

  /**
   * Reports that this worker finished iterations 1 to `t` (iterations count from 1). Reporting
   * the same `t` again is a no-op.
   * @throws PsError `PS_ERR_PROGRESS` when `t` is not an integer from 0 to 2^31 − 1, is below
   *   an iteration already reported, or comes after `done()`; `PS_ERR_CLOSED` once the node closed.
   */
  finish(t: number): void {
    this.throwIfClosed();
    if (this.isDone) {
      throw new PsError(
        PsErrorCode.PROGRESS,
        `finish(${t}): this worker called done() after iteration ${this.own}; it reports no more iterations`,
      );
    }
    if (!isIteration(t)) {
      throw new PsError(
        PsErrorCode.PROGRESS,
        `finish(t): t must be an integer iteration from 0 to ${MAX_ITERATION}, got ${t}`,
      );
    }
    if (t < this.own) {
      throw new PsError(
        PsErrorCode.PROGRESS,
        `finish(${t}): this worker already reported iteration ${this.own}; iterations only go forward`,
      );
    }
    if (t === this.own) return;
    this.own = t;
    this.report(t, this.clock.version);
  }

  /**
   * Reports that this worker has no iteration left: it leaves the clock (as a dead worker does),
   * so that workers with more iterations than this one are not held back by it. `finalize()`
   * calls it. Idempotent.
   * @throws PsError `PS_ERR_CLOSED` once the node closed.
   */
  done(): void {
    this.throwIfClosed();
    if (this.isDone) return;
    this.isDone = true;
    this.report(this.own, this.clock.version, true);
  }

  /**
   * Resolves, with the clock that met the bound, once every live worker finished iteration
   * `t − τ`: called after this worker finished `t`, it holds the start of `t + 1` to the bounded
   * delay τ. Resolves at once when `t − τ ≤ 0` or τ is Infinity.
   * @param t the iteration this worker finished (an integer ≥ 0).
   * @param tau the delay τ, in iterations: an integer ≥ 0, or Infinity.
   * @throws PsError `PS_ERR_PROGRESS` for a bad `t`, τ or `timeoutMs` (thrown at once);
   *   rejects with `PS_ERR_TIMEOUT` past `timeoutMs`, and with `PS_ERR_CLOSED` when the node
   *   closes first (or had closed).
   */
  waitFor(t: number, tau: number, opts: ProgressWaitOptions = {}): Promise<ProgressClock> {
    return firstValueFrom(this.waitFor$(t, tau, opts));
  }

  /**
   * The Observable form of {@link waitFor}: emits the clock that met the bound, then completes;
   * errors as `waitFor` rejects. Cold: the wait starts on subscription.
   * @throws PsError `PS_ERR_PROGRESS` for a bad `t`, τ or `timeoutMs` (thrown at once).
   */
  waitFor$(t: number, tau: number, opts: ProgressWaitOptions = {}): Observable<ProgressClock> {
    if (!isIteration(t)) {
      throw new PsError(
        PsErrorCode.PROGRESS,
        `waitFor(t, τ): t must be an integer iteration from 0 to ${MAX_ITERATION}, got ${t}`,
      );
    }
    if (!(tau === Number.POSITIVE_INFINITY || (Number.isInteger(tau) && tau >= 0))) {
      throw new PsError(
        PsErrorCode.PROGRESS,
        `waitFor(t, τ): τ must be a non-negative integer or Infinity, got ${tau}`,
      );
    }
    const ms = opts.timeoutMs;
    if (ms !== undefined && !(Number.isFinite(ms) && ms > 0)) {
      throw new PsError(
        PsErrorCode.PROGRESS,
        `waitFor(t, τ, { timeoutMs }): timeoutMs must be a positive number of ms, got ${ms}`,
      );
    }
    if (this.closedBy) return throwError(() => this.closedBy);
    const need = t - tau;
    if (need <= 0) return of(this.clock);
    // From asObservable(): a piped Subject is still a Subject (its next() would reach state$).
    const met = this.state$.asObservable().pipe(
      filter((c): c is ProgressClock => c !== undefined && slowestOf(c) >= need),
      take(1),
    );
    if (ms === undefined) return met;
    return met.pipe(
      timeout({
        first: ms,
        with: () =>
          throwError(
            () =>
              new PsError(
                PsErrorCode.TIMEOUT,
                `waitFor(${t}, ${tau}): the slowest live worker finished ${slowestOf(this.clock)} iterations, not ${need}, within ${ms} ms; a worker is stuck or slow (the scheduler drops dead ones after its heartbeat timeout): raise timeoutMs or τ`,
                { t, tau, slowest: slowestOf(this.clock) },
              ),
          ),
      }),
    );
  }

  /**
   * A clock from the scheduler (its wire form). An older version than the current one is
   * dropped; one with the same entries updates the version without an emission.
   * @throws RangeError for a malformed clock.
   */
  receive(wire: unknown): void {
    if (this.closedBy) return;
    const next = progressClockFromWire(wire);
    const prev = this.current;
    if (prev && next.version <= prev.version) return;
    for (const [id, t] of Object.entries(next.finished))
      this.last.set(id, Math.max(t, this.last.get(id) ?? 0));
    this.current = next;
    if (!prev || !sameEntries(prev, next)) this.state$.next(next);
  }

  /** What this worker tells a scheduler it registers with: its last finished iteration. */
  registration(): { progress: { t: number; v: number; done?: true } } {
    return {
      progress: { t: this.own, v: this.clock.version, ...(this.isDone ? { done: true as const } : {}) },
    };
  }

  /** The node closed: pending and later waits reject with `err` (`PS_ERR_CLOSED` by default). */
  close(err?: PsError): void {
    if (this.closedBy) return;
    this.closedBy = new PsError(
      PsErrorCode.CLOSED,
      `worker ${this.id} closed${err ? ` (${err.message})` : ''}; its progress waits end: start a new node to take part again`,
      undefined,
      err ? { cause: err } : undefined,
    );
    this.state$.error(this.closedBy);
  }

  private throwIfClosed(): void {
    if (this.closedBy) throw this.closedBy;
  }
}
