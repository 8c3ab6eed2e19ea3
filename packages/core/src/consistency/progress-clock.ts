import type { NodeId } from '../wire/message.js';

/**
 * The workers' progress clocks (OSDI 2014, section 3.5; Figure 13): a vector of finished
 * iterations, one entry per live worker, kept by the scheduler and pushed to every worker on
 * each change (see `WorkerProgress`). A worker that finished iterations 1 to t has entry t;
 * 0 means none. Dead workers have no entry (they hold nobody back); a worker that joins a
 * running cluster starts at the clock's minimum.
 */
export interface ProgressClock {
  /** Increases with every clock the scheduler publishes (also across a scheduler's restart). */
  readonly version: number;
  /** Iterations finished, by live worker id. */
  readonly finished: Readonly<Record<NodeId, number>>;
}

/** The clock before the scheduler sent one: version 0, no entries. */
export const EMPTY_PROGRESS_CLOCK: ProgressClock = Object.freeze({
  version: 0,
  finished: Object.freeze({}),
});

/** The most entries a clock on the wire may hold (a bound for bad input, not a cluster limit). */
const MAX_ENTRIES = 65_536;

/** The largest iteration number a clock holds (2^31 − 1: far past any job). */
export const MAX_ITERATION = 2 ** 31 - 1;

/** True for an iteration number a clock can hold: an integer from 0 to {@link MAX_ITERATION}. */
export function isIteration(t: unknown): t is number {
  return Number.isInteger(t) && (t as number) >= 0 && (t as number) <= MAX_ITERATION;
}

/**
 * Iterations the slowest live worker finished: the clock's minimum, `Infinity` for a clock
 * without entries (nobody holds anybody back).
 */
export function slowestOf(clock: ProgressClock): number {
  let min = Number.POSITIVE_INFINITY;
  for (const t of Object.values(clock.finished)) if (t < min) min = t;
  return min;
}

/**
 * The gap in finished iterations between the fastest and the slowest live worker (the clock's
 * maximum minus its minimum); 0 for a clock of fewer than two entries.
 */
export function stalenessOf(clock: ProgressClock): number {
  const ts = Object.values(clock.finished);
  if (ts.length < 2) return 0;
  let min = ts[0]!;
  let max = min;
  for (const t of ts) {
    if (t < min) min = t;
    if (t > max) max = t;
  }
  return max - min;
}

/** True when `a` and `b` hold the same entries (their versions aside). */
export function sameEntries(a: ProgressClock, b: ProgressClock): boolean {
  const ka = Object.keys(a.finished);
  if (ka.length !== Object.keys(b.finished).length) return false;
  return ka.every((id) => b.finished[id] === a.finished[id]);
}

/** The wire form of a clock: the entries as `[id, t]` pairs. */
export interface WireProgressClock {
  version: number;
  finished: [NodeId, number][];
}

export function progressClockToWire(clock: ProgressClock): WireProgressClock {
  return { version: clock.version, finished: Object.entries(clock.finished) };
}

/** @throws RangeError for a malformed clock (the node logs and drops it). */
export function progressClockFromWire(w: unknown): ProgressClock {
  if (!w || typeof w !== 'object') throw new RangeError('not a progress clock');
  const { version, finished } = w as Partial<WireProgressClock>;
  if (!Number.isSafeInteger(version) || (version as number) < 0)
    throw new RangeError(`bad clock version ${String(version)}`);
  if (!Array.isArray(finished) || finished.length > MAX_ENTRIES)
    throw new RangeError(`a clock lists at most ${MAX_ENTRIES} [worker, iteration] pairs`);
  // No prototype: a worker id is data, never `__proto__` of the record.
  const out: Record<NodeId, number> = Object.create(null);
  for (const pair of finished) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || !isIteration(pair[1]))
      throw new RangeError('a clock entry is a [worker id, iteration] pair');
    out[pair[0]] = pair[1];
  }
  return { version: version as number, finished: out };
}
