import { TimestampTable } from '../internal/timestamp-table.js';

/** Timing of a `ResendTable`, in ms. */
export interface ResendTiming {
  /** First resend this long after a send with no answer; each later one waits twice as long. */
  intervalMs: number;
  /** The wait between resends never exceeds this. */
  maxIntervalMs: number;
}

/** Default timing: first resend after 2 s, then 4 s, 8 s, 8 s, ... */
export const DEFAULT_RESEND_TIMING: ResendTiming = { intervalMs: 2_000, maxIntervalMs: 8_000 };

interface Entry<K> {
  key: K;
  peer: string;
  attempts: number;
  /** When the next resend is due (ms, `Date.now()` clock). */
  due: number;
  /** When the request fails instead (ms), or Infinity. */
  deadline: number;
  sentAt: number;
}

/** Where a table keeps its entries: by key in a Map, or by `idOf(key)` in a TimestampTable. */
interface EntryStore<K> {
  readonly size: number;
  get(key: K): Entry<K> | undefined;
  set(key: K, e: Entry<K>): void;
  delete(key: K): void;
  /** Every entry, oldest first (a copy: callbacks may change the table). */
  values(): Entry<K>[];
  clear(): void;
}

function mapStore<K>(): EntryStore<K> {
  const m = new Map<K, Entry<K>>();
  return {
    get size() {
      return m.size;
    },
    get: (key) => m.get(key),
    set: (key, e) => void m.set(key, e),
    delete: (key) => void m.delete(key),
    values: () => [...m.values()],
    clear: () => m.clear(),
  };
}

function idStore<K>(idOf: (key: K) => number): EntryStore<K> {
  const t = new TimestampTable<Entry<K>>();
  return {
    get size() {
      return t.size;
    },
    get: (key) => t.get(idOf(key)),
    set: (key, e) => t.set(idOf(key), e),
    delete: (key) => void t.delete(idOf(key)),
    values: () => t.values(),
    clear: () => t.clear(),
  };
}

/**
 * The sender's side of delivery: requests sent and not yet answered, each with the time its next
 * resend is due (exponential backoff from {@link ResendTiming.intervalMs}) and its deadline. One
 * timer serves the whole table (it stops at the first tick that finds the table empty); each tick
 * costs one comparison per request. `onResend` is called when a resend is due (and for every request to a
 * peer on {@link resendTo}, e.g. when its connection came back); `onExpire` once, when a request
 * passed its deadline (it is then removed). Keys are whatever identifies a request to its owner.
 */
export class ResendTable<K> {
  private readonly entries: EntryStore<K>;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  /**
   * @param idOf when given, a key's id: a non-negative safe integer, unique among the keys held
   *   and issued in increasing order (a request's sequence number). The table then keeps its
   *   entries in a {@link TimestampTable}, not a `Map`: a `Map` that gains and loses an entry a
   *   request keeps every request's objects alive past the young generation (see there).
   */
  constructor(
    private readonly timing: ResendTiming,
    private readonly onResend: (key: K, attempt: number) => void,
    private readonly onExpire: (key: K, waitedMs: number, peer: string) => void,
    idOf?: (key: K) => number,
  ) {
    this.entries = idOf ? idStore(idOf) : mapStore();
  }

  /** Requests in the table. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Records a request just sent to `peer` (or sent again: its backoff is kept). `deadline` is
   * absolute (ms since the epoch), `Infinity` for none.
   */
  add(key: K, peer: string, deadline: number, now = Date.now()): void {
    if (this.closed) return;
    const e = this.entries.get(key);
    if (e) {
      e.peer = peer;
      e.deadline = Math.min(e.deadline, deadline);
      return;
    }
    const fresh: Entry<K> = {
      key,
      peer,
      attempts: 0,
      due: now + this.timing.intervalMs,
      deadline,
      sentAt: now,
    };
    this.entries.set(key, fresh);
    if (!this.timer) {
      const every = Math.max(20, Math.min(250, this.timing.intervalMs / 4));
      this.timer = setInterval(() => this.tick(), every);
      this.timer.unref?.();
    }
  }

  /**
   * The request was answered (or given up): forget it. The timer stops at its next tick if the
   * table is still empty then, not here: a worker that sends one request at a time would start
   * and clear a timer for every request.
   */
  delete(key: K): void {
    this.entries.delete(key);
  }

  has(key: K): boolean {
    return this.entries.get(key) !== undefined;
  }

  /** Resends every request to `peer` now (its connection came back); backoff is kept. */
  resendTo(peer: string): void {
    for (const e of this.entries.values()) {
      if (e.peer !== peer || this.entries.get(e.key) !== e) continue;
      this.onResend(e.key, e.attempts);
    }
  }

  /** Checks every request: expires those past their deadline, resends those due. */
  tick(now = Date.now()): void {
    for (const e of this.entries.values()) {
      if (this.entries.get(e.key) !== e) continue;
      if (now >= e.deadline) {
        this.delete(e.key);
        this.onExpire(e.key, now - e.sentAt, e.peer);
        continue;
      }
      if (now < e.due) continue;
      e.attempts++;
      const wait = Math.min(this.timing.intervalMs * 2 ** e.attempts, this.timing.maxIntervalMs);
      e.due = now + wait;
      this.onResend(e.key, e.attempts);
    }
    if (this.size === 0) this.stop();
  }

  /** Forgets every request and stops the timer; later `add`s are ignored. */
  close(): void {
    this.closed = true;
    this.entries.clear();
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
