import { defer, from, type Observable, Subject, type Subscription } from 'rxjs';
import { type Consistency, delayOf, eventual } from './consistency/consistency.js';
import type { TaskEvent } from './consistency/task-event.js';
import { PsError, PsErrorCode } from './errors.js';
import { releaseAnswerFrames } from './internal/release-answer-frames.js';
import { TimestampTable } from './internal/timestamp-table.js';
import type { ClusterView } from './membership/cluster-view.js';
import { RequestMetrics } from './metrics/request-metrics.js';
import { BusyPoll } from './net/busy-poll.js';
import { DEFAULT_RESEND_TIMING, ResendTable, type ResendTiming } from './net/resend-table.js';
import type { PsNode } from './ps-node.js';
import type { RangeAnswer } from './range/range-answer.js';
import { assemblePage, type RangePage, rangeAnswerFromWire } from './range/range-page.js';
import { checkRangePull, type RangeLimits, rangeRequestToWire } from './range/range-request.js';
import { joinRanges, sliceRanges } from './range/range-slices.js';
import { gatherKV, valueOffsets } from './wire/gather.js';
import type { KeyRange } from './wire/key-range.js';
import { dtypeOf, type KVPairs, type ValArray, validateKVPairs } from './wire/kv-pairs.js';
import { type LocalHint, withLocalHint } from './wire/local-frame.js';
import type { Message, Meta, NodeId, Segment } from './wire/message.js';
import { ownedFrameOf } from './wire/owned-frame.js';
import { ValidatedKeys } from './wire/validated-keys.js';

/**
 * A request's timestamp: a number, branded with what `wait` resolves to (`void` for a push,
 * the pulled KVPairs for a pull or pushPull).
 */
export type Timestamp<T = unknown> = number & { readonly __result?: T };

/** Options of {@link KVWorker}. */
export interface KVWorkerOptions {
  /** App id (table) this worker talks to. Default 0. */
  app?: number;
  /** The worker's consistency policy (default `eventual()`: no task waits for another). */
  consistency?: Consistency;
  /**
   * How long a request may go unanswered after it was sent, in ms (default 30,000): then its
   * `wait()` rejects with `PS_ERR_TIMEOUT`, naming the server and the time waited. Meanwhile the
   * request is resent (see `resend`), on reconnect and on ring changes; servers apply it once.
   */
  requestTimeoutMs?: number;
  /**
   * When an unanswered request is sent again: first after `intervalMs` (default 2,000), then
   * doubling up to `maxIntervalMs` (default 8,000); also at once when the connection to its
   * server comes back.
   */
  resend?: ResendTiming;
}

const EMPTY_VALS = new Float32Array(0);
const EMPTY_KEYS = new BigUint64Array(0);

/** Errors of a send that a later resend may cure (the connection was lost or not yet made). */
const RETRYABLE_SEND = new Set<string>([PsErrorCode.PEER_UNREACHABLE, PsErrorCode.UNKNOWN_PEER]);

/**
 * Key-cache misses one slice may answer with a resend of its keys. After a miss the sender's
 * key-list reuse sends keys plainly for a while, so a miss is repaired by the next copy; copies
 * already in flight when the connection was reset may each still be answered with a miss.
 */
const MAX_CACHE_RESENDS = 8;

/** How many times one task may be re-sliced after ring changes before it fails. */
const MAX_RESLICES = 64;
/** How long a slice answered `PS_ERR_WRONG_OWNER` waits for the newer ring, in ms. */
const RING_WAIT_MS = 15_000;

/** The part of a task sent to one server (its index in `Task.slices` travels as `meta.part`). */
interface Slice {
  server: NodeId;
  /** Index intervals of the task's keys in this slice: `[b0, e0, b1, e1, ...]`. */
  iv: number[];
  /** This slice's keys (a view when it is one interval). */
  keys: BigUint64Array;
  /** The segments sent (kept for a resend after a key-cache miss). */
  data: Segment[];
  vals?: ValArray;
  lens?: Int32Array;
  /** The pooled buffer of the answer frame, when the answer alone holds it (`ownedFrameOf`). */
  frame?: ArrayBuffer;
  done: boolean;
  /** Superseded by slices re-sliced on a newer ring: its answer is ignored. */
  replaced: boolean;
  /** A push part sent before to another server: the server drops what it applied already. */
  resend: boolean;
  /**
   * Times this slice was sent again after a key-cache miss. Each copy of a request in flight (the
   * first send and the resend table's copies after a reconnect) can be answered with a miss, so
   * several misses for one slice are normal after a reset; the bound stops a loop.
   */
  cacheResends?: number;
  /** Sent at least once (only a first send may carry an in-thread hint). */
  sentOnce?: boolean;
  /** Version of the ring this slice was cut by (servers of another version refuse it). */
  ring: number;
  /** The task this slice belongs to (for the resend table). */
  task: Task;
  /** Index in `task.slices` (`meta.part`). */
  index: number;
  /** This worker's number for the slice, unique and increasing (the resend table's key). */
  id: number;
  /** A range pull's part: the key ranges this server owns, and its answer once it came. */
  ranges?: KeyRange[];
  answer?: RangeAnswer;
}

interface Task {
  ts: number;
  op: 'push' | 'pull' | 'pushPull';
  push: boolean;
  pull: boolean;
  /** The request as issued (for a pull, `vals` is empty). */
  kv: KVPairs;
  /** Where each key's values start, when the push has `lens`. */
  valOffsets?: Int32Array;
  slices: Slice[];
  /** Slices not yet answered (replaced ones excluded). */
  remaining: number;
  /** Times the task was re-sliced after ring changes. */
  reslices: number;
  /** The last `PS_ERR_WRONG_OWNER` refusal, named when the task gives up re-slicing. */
  lastRefusal?: string;
  /** Explicit dependencies (earlier timestamps of this worker). */
  deps: number[];
  /** Wait for `deps` at the worker (true) or let the servers order them (false). */
  hold: boolean;
  /** The policy's delay τ when the task was issued. */
  tau: number;
  /** The iteration it belongs to (sync mode), if tagged. */
  iteration?: number | undefined;
  issuedAt: number;
  sentAt: number;
  sent: boolean;
  /** When `wait()` rejects with `PS_ERR_TIMEOUT` if the task is still unanswered (ms, `Date.now()`). */
  deadline: number;
  waiters: { resolve: (v: KVPairs | undefined) => void; reject: (e: PsError) => void }[];
  /** The caller's buffer for the pulled values (`PullOptions.into`). */
  into?: ValArray;
  /** What `ValidatedKeys` tagged `kv.keys` with when the task was issued (-1: not tagged). */
  keysTag: number;
  /** A range pull: its range and limits (`kv` is then empty). */
  range?: { range: KeyRange; limits: RangeLimits };
}

type Outcome = { ok: true; value: KVPairs | undefined } | { ok: false; error: PsError };

/** Per-request options of `push`, `pull` and `pushPull`. */
export interface RequestOptions {
  /**
   * Earlier tasks (timestamps of this worker) this one depends on. By default the worker holds
   * the task back until they have finished.
   */
  deps?: readonly number[];
  /**
   * `false`: send at once and let each server order the task after the named tasks that reached
   * it (a pull at t+2 naming the push at t+1 sees that push, in one round trip). Default true.
   */
  hold?: boolean;
  /** This request's policy, instead of the worker's. */
  consistency?: Consistency;
  /**
   * Sync mode (aggregation on servers, `sync` on the servers and the scheduler): the iteration
   * (a non-negative integer) this push belongs to, or that this pull reads. Every server sums
   * the pushes of iteration t of every live worker, applies the update rule once to the sum,
   * and only then acknowledges them; a pull of iteration t is answered once every earlier
   * iteration is applied. A push of an iteration goes to every server, with no keys where it has
   * none there, so each server knows this worker is done with it: push once per iteration, even
   * with nothing to send.
   * @throws PsError `PS_ERR_SYNC` (synchronously) for a value that is not a non-negative integer.
   */
  iteration?: number;
}

/** Per-request options of `pullRange`: the request's dependencies and policy, and its page bounds. */
export interface RangePullOptions extends RequestOptions, RangeLimits {}

/** Per-request options of `pull` and `pushPull`. */
export interface PullOptions extends RequestOptions {
  /**
   * Where the pulled values go (ps-lite's `ZPull(keys, vals*)`): `wait(ts)` resolves to
   * `{ keys, vals: into, lens? }`, with the values written into this array in key order, instead
   * of a freshly allocated one. Its length is the number of values the request reads: keys ×
   * values per key (for a pushPull, `kv.vals.length`). Reusing one buffer per request shape
   * spares an allocation of the answer's size per request (4 MB for 1,000,000 float32 values).
   * Values of the other float type are converted. Do not read it before `wait` resolves (a server
   * in this thread may write the answer there directly); after a failed request its content is
   * unspecified, except that `PS_ERR_INTO_LENGTH` leaves it as it was.
   * @throws PsError `PS_ERR_INTO_LENGTH` (synchronously) when it is not a Float32Array or
   *   Float64Array, or (a pushPull) its length is not `kv.vals.length`; `wait(ts)` rejects with
   *   it when the servers' answer has another number of values than `into.length`.
   */
  into?: Float32Array | Float64Array;
}

/**
 * The worker side of one app id (ps-lite's KVWorker), with the paper's asynchronous tasks and
 * flexible consistency (OSDI 2014, sections 3.4 and 3.5). `push`, `pull` and `pushPull` slice a
 * request by the servers' key ranges and return a timestamp at once; the task is sent when its
 * dependencies allow (the worker's policy and the request's `deps`); `wait(ts)` resolves when
 * every server touched has answered. Pulled values come back in key order. The arrays passed
 * to `push` must not be changed until its `wait` resolves (they are sent without a copy).
 *
 * `V` is the type of pulled values: the table's dtype (`Float32Array` for the default
 * `tableHandler`), given by `createWorker({ dtype })` or `new KVWorker<Float32Array>(...)`. It
 * types what `pull` and `pushPull` resolve to; the servers' handler decides what they send, so
 * give it the same dtype. Default: either.
 */
export class KVWorker<V extends ValArray = ValArray> {
  readonly app: number;
  /** Every task's life: issued, sent, answered, finished; and each wait. */
  readonly events$: Observable<TaskEvent>;
  private readonly eventsSubject = new Subject<TaskEvent>();
  /** Requests sent by kind, and their durations from send to answer (read by metrics collectors). */
  readonly requestMetrics = new RequestMetrics();
  private nextTs = 0;
  /** Unfinished tasks by timestamp (not a Map: see `TimestampTable`). */
  private readonly pending = new TimestampTable<Task>();
  /** The id of the last slice cut (`Slice.id`). */
  private lastSliceId = 0;
  /** Issued tasks not yet sent, in timestamp order. */
  private held: Task[] = [];
  /** Every task below this timestamp has finished. */
  private doneBelow = 0;
  /** Finished tasks at or above `doneBelow`. */
  private readonly doneAbove = new Set<number>();
  /** Finished requests whose outcome nobody has collected yet (pulls, and failures). */
  private readonly finished = new TimestampTable<Outcome>();
  private readonly sub: Subscription;
  private readonly validated = new ValidatedKeys();
  /** The tag `validated` gave the keys of the request being issued (-1: a short list). */
  private keysTag = -1;
  private readonly checkKeys = (keys: BigUint64Array) => {
    this.keysTag = this.validated.validate(keys);
  };
  private policy: Consistency;
  /** This worker's incarnation: servers tell its requests from those of an earlier process with its id. */
  readonly incarnation: string = randomHex(16);
  private readonly requestTimeoutMs: number;
  /** Slices sent and not answered: resent with backoff, on reconnect, until the task's deadline. */
  private readonly resends: ResendTable<Slice>;
  private readonly links: Subscription;

  constructor(
    readonly node: PsNode,
    opts: KVWorkerOptions = {},
  ) {
    this.app = opts.app ?? 0;
    this.policy = opts.consistency ?? eventual();
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    if (!(this.requestTimeoutMs > 0)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `requestTimeoutMs must be a positive number of ms, got ${this.requestTimeoutMs}`,
      );
    }
    this.resends = new ResendTable<Slice>(
      opts.resend ?? DEFAULT_RESEND_TIMING,
      (slice) => this.resendSlice(slice),
      (slice, waited, peer) => this.expire(slice, waited, peer),
      (slice) => slice.id,
    );
    this.events$ = this.eventsSubject.asObservable();
    this.links = node.links$.subscribe((ev) => {
      if (ev.type === 'connected') this.resends.resendTo(ev.peer);
    });
    node.attach(this.app, 'worker', (msg) => this.onResponse(msg));
    node.provideRequestKeys(this.app, (peer, ts, part) => {
      const t = this.pending.get(ts);
      const slice =
        part !== undefined
          ? t?.slices[part]
          : t?.slices.find((s) => s.server === peer && !s.done && !s.replaced);
      return slice && slice.server === peer ? slice.keys : undefined;
    });
    node.onTerminate((err) => this.failAll(err));
    this.sub = node.cluster$.subscribe((view) => {
      if (view) this.onView(view);
    });
  }

  /**
   * A new view. With a new ring, every slice in flight that was cut by an older ring is replaced:
   * the keys of all of a task's such slices are sliced together by the new ring and resent (in
   * timestamp order, before anything newer is sent), so that a failover or range move loses no
   * push; servers drop what they applied already, by range vector clock. A slice to a server
   * declared dead is replaced the same way.
   */
  private onView(view: ClusterView): void {
    const dead = new Set(view.dead);
    const version = view.ring.version;
    for (const t of this.pending.values()) {
      if (!t.sent) continue;
      const stale: number[] = [];
      for (let i = 0; i < t.slices.length; i++) {
        const s = t.slices[i]!;
        if (!s.done && !s.replaced && (s.ring < version || dead.has(s.server))) stale.push(i);
      }
      if (stale.length > 0) this.reslice(t, stale, view);
    }
  }

  /** The worker's consistency policy; may be changed while running (held tasks are re-checked). */
  get consistency(): Consistency {
    return this.policy;
  }

  set consistency(c: Consistency) {
    this.policy = c;
    const tau = delayOf(c);
    for (const t of this.held) t.tau = tau;
    this.release();
  }

  /** Tasks sent and not yet answered. */
  get inFlight(): number {
    let n = 0;
    for (const t of this.pending.values()) if (t.sent) n++;
    return n;
  }

  /** Tasks issued but held back by their dependencies. */
  get heldBack(): number {
    return this.held.length;
  }

  /**
   * Pushes values to the servers (each applies its handler, e.g. adds them).
   * @returns the request's timestamp; `await wait(ts)` for its completion.
   * @throws PsError (synchronously) for invalid KVPairs: `PS_ERR_KEYS_UNSORTED`,
   *   `PS_ERR_KEYS_DUPLICATE`, `PS_ERR_VALS_LENGTH`, `PS_ERR_LENS_LENGTH`, `PS_ERR_LENS_SUM`,
   *   `PS_ERR_DTYPE`; `PS_ERR_DEPS` for a dependency that is not an earlier task.
   */
  push(kv: KVPairs, opts?: RequestOptions): Timestamp<void> {
    validateKVPairs(kv, this.checkKeys);
    return this.issue(kv, true, false, opts) as Timestamp<void>;
  }

  /**
   * Pulls the values of `keys` (strictly increasing). `wait(ts)` resolves to `{ keys, vals, lens? }`
   * with values in key order: `vals.length / keys.length` per key, or `lens` when the table holds
   * variable-length values. A key no server holds reads as zeros.
   * With `opts.into`, the values are written into that array (see {@link PullOptions.into}).
   * @throws PsError `PS_ERR_KEYS_UNSORTED`, `PS_ERR_KEYS_DUPLICATE`, `PS_ERR_DEPS`,
   *   `PS_ERR_INTO_LENGTH` (synchronously).
   */
  pull(keys: BigUint64Array, opts?: PullOptions): Timestamp<KVPairs<V>> {
    this.checkKeys(keys);
    if (opts?.into !== undefined) checkInto(opts.into, undefined);
    return this.issue({ keys, vals: EMPTY_VALS }, false, true, opts) as Timestamp<KVPairs<V>>;
  }

  /**
   * Pulls every stored key in `range` (`[begin, end)`: bigint bounds, `end` exclusive, up to
   * `2n ** 64n`), without naming the keys: each server owning part of the range (sliced by the
   * ring, read from the master) lists its stored keys there, and `wait(ts)` resolves to a
   * {@link RangePage}: the keys in ascending order, each with the values a `pull` of it reads (the
   * table's dtype; `lens` when keys hold different numbers of values, else `vals.length /
   * keys.length` each). Keys never pushed are not listed (no zeros).
   *
   * Large ranges come in pages: with `opts.limit` (keys) or `opts.maxBytes` (bytes each server's
   * answer may carry), the page holds the range's first keys up to those bounds, and `next` is
   * the first stored key it left out; pull `{ begin: next, end }` for the next page, until `next`
   * is `undefined`. A page sees the table as it is when each server answers (keys pushed between
   * pages show up in later pages when they lie after `next`).
   *
   * The answers pass this worker's filters as pull answers do, and follow ring changes (a server
   * that no longer owns its part answers `PS_ERR_WRONG_OWNER`, and the part is pulled again by the
   * new ring). Dependencies and policy work as for `pull`.
   * @throws PsError `PS_ERR_RANGE_INVALID`, `PS_ERR_DEPS` (synchronously). `wait(ts)` rejects with
   *   `PS_ERR_RANGE_TOO_LARGE` when a server's part would pass its byte budget (64 MiB by default)
   *   and neither `limit` nor `maxBytes` was given, and with `PS_ERR_RANGE_UNSUPPORTED` when a
   *   server's handler is not table-backed.
   */
  pullRange(range: KeyRange, opts: RangePullOptions = {}): Timestamp<RangePage<V>> {
    checkRangePull(range, opts);
    const limits: RangeLimits = {};
    if (opts.limit !== undefined) limits.limit = opts.limit;
    if (opts.maxBytes !== undefined) limits.maxBytes = opts.maxBytes;
    this.issuing = { range: { begin: range.begin, end: range.end }, limits };
    try {
      return this.issue({ keys: EMPTY_KEYS, vals: EMPTY_VALS }, false, true, opts) as Timestamp<RangePage<V>>;
    } finally {
      this.issuing = undefined; // also when issue threw (PS_ERR_DEPS): the next request is no range pull
    }
  }

  /** The range of the range pull being issued (read once by `issue`). */
  private issuing: Task['range'];

  /**
   * Pushes, then pulls the same keys in one round trip (the values after this push was applied).
   * With `opts.into` (length `kv.vals.length`), the values are written into that array.
   * @throws PsError as `push`, and `PS_ERR_INTO_LENGTH` (synchronously) for a wrong `into`.
   */
  pushPull(kv: KVPairs, opts?: PullOptions): Timestamp<KVPairs<V>> {
    validateKVPairs(kv, this.checkKeys);
    if (opts?.into !== undefined) checkInto(opts.into, kv.vals.length);
    return this.issue(kv, true, true, opts) as Timestamp<KVPairs<V>>;
  }

  /**
   * Resolves when request `ts` has been answered by every server it touched: to `undefined`
   * for a push, to the pulled KVPairs for a pull (a pull's values go to the first `wait`).
   * @throws PsError the first error a server answered with (`PS_ERR_HANDLER`, `PS_ERR_LENS_CONFLICT`,
   *   ...), `PS_ERR_NODE_DEAD`, `PS_ERR_SHUTDOWN`, or `PS_ERR_UNKNOWN_TIMESTAMP` for a timestamp
   *   never issued.
   */
  wait<T>(ts: Timestamp<T> | number): Promise<T> {
    const p = this.pending.get(ts);
    if (p) {
      const observed = this.eventsSubject.observed;
      if (observed) this.eventsSubject.next({ type: 'wait', ts, time: performance.now() });
      const done = new Promise<KVPairs | undefined>((resolve, reject) => p.waiters.push({ resolve, reject }));
      if (!observed) return done as Promise<T>;
      const resume = () => this.eventsSubject.next({ type: 'resume', ts, time: performance.now() });
      return done.then(
        (v) => {
          resume();
          return v;
        },
        (e: unknown) => {
          resume();
          throw e;
        },
      ) as Promise<T>;
    }
    const outcome = this.finished.get(ts);
    if (outcome) {
      this.finished.delete(ts);
      return (outcome.ok ? Promise.resolve(outcome.value) : Promise.reject(outcome.error)) as Promise<T>;
    }
    if (!Number.isInteger(ts) || ts < 0 || ts >= this.nextTs) {
      return Promise.reject(
        new PsError(PsErrorCode.UNKNOWN_TIMESTAMP, `timestamp ${ts} was never issued by this worker`),
      );
    }
    return Promise.resolve(undefined as T);
  }

  /** True once task `ts` has finished (answered by every server, or failed). */
  isFinished(ts: number): boolean {
    return ts < this.doneBelow || this.doneAbove.has(ts);
  }

  /** `push` as an Observable: emits once (undefined) and completes when the push is applied. */
  push$(kv: KVPairs, opts?: RequestOptions): Observable<void> {
    return defer(() => from(this.wait(this.push(kv, opts))));
  }

  /** `pull` as an Observable: emits the pulled KVPairs and completes. */
  pull$(keys: BigUint64Array, opts?: PullOptions): Observable<KVPairs<V>> {
    return defer(() => from(this.wait(this.pull(keys, opts))));
  }

  /** `pushPull` as an Observable: emits the pulled KVPairs and completes. */
  pushPull$(kv: KVPairs, opts?: PullOptions): Observable<KVPairs<V>> {
    return defer(() => from(this.wait(this.pushPull(kv, opts))));
  }

  private emit(e: TaskEvent): void {
    this.eventsSubject.next(e);
  }

  private issue(kv: KVPairs, push: boolean, pull: boolean, opts: PullOptions = {}): number {
    this.node.view; // throws PS_ERR_PROTOCOL before the node joined
    const deps = opts.deps ? [...opts.deps] : [];
    const ts = this.nextTs;
    for (const d of deps) {
      if (!Number.isInteger(d) || d < 0 || d >= ts) {
        throw new PsError(
          PsErrorCode.DEPS,
          `task ${ts} names ${d} as a dependency; a task may depend only on earlier tasks of the same worker (0 to ${ts - 1})`,
        );
      }
    }
    const iteration = opts.iteration;
    if (iteration !== undefined && (!Number.isSafeInteger(iteration) || iteration < 0)) {
      throw new PsError(PsErrorCode.SYNC, `iteration must be a non-negative integer, got ${iteration}`);
    }
    this.nextTs++;
    const op = push && pull ? 'pushPull' : push ? 'push' : 'pull';
    this.requestMetrics.count(op);
    const now = this.eventsSubject.observed ? performance.now() : 0;
    if (now) this.emit({ type: 'issued', ts, time: now, op, deps });
    const t: Task = {
      ts,
      op,
      push,
      pull,
      kv,
      valOffsets: push && kv.lens ? valueOffsets(kv.lens) : undefined,
      slices: [],
      remaining: 0,
      reslices: 0,
      deps,
      hold: opts.hold ?? true,
      tau: delayOf(opts.consistency ?? this.policy),
      issuedAt: now,
      sentAt: 0,
      sent: false,
      deadline: 0,
      waiters: [],
      into: pull ? opts.into : undefined,
      keysTag: this.keysTag,
      iteration,
    };
    if (this.issuing) t.range = this.issuing;
    this.issuing = undefined;
    this.keysTag = -1;
    this.pending.set(ts, t);
    BusyPoll.shared.awaiting(1);
    if (this.held.length === 0 && this.ready(t)) this.send(t);
    else this.held.push(t);
    return ts;
  }

  /** Whether a task's dependencies allow sending it now. */
  private ready(t: Task): boolean {
    // Bounded delay τ: every task older than t − τ has finished.
    if (t.tau !== Number.POSITIVE_INFINITY && this.doneBelow < t.ts - t.tau) return false;
    if (t.hold) for (const d of t.deps) if (!this.isFinished(d)) return false;
    return true;
  }

  /** Sends every held task whose dependencies now allow it, in timestamp order. */
  private release(): void {
    if (this.held.length === 0) return;
    const still: Task[] = [];
    for (const t of this.held) {
      if (this.pending.get(t.ts) !== t) continue; // failed while held
      if (this.ready(t)) this.send(t);
      else still.push(t);
    }
    this.held = still;
  }

  private send(t: Task): void {
    const { ts } = t;
    t.sent = true;
    t.deadline = Date.now() + this.requestTimeoutMs;
    t.sentAt = performance.now();
    if (this.eventsSubject.observed) {
      this.emit({ type: 'sent', ts, time: t.sentAt, heldMs: t.issuedAt ? t.sentAt - t.issuedAt : 0 });
    }
    const view = this.node.currentView;
    if (!view) {
      this.fail(
        ts,
        new PsError(PsErrorCode.SHUTDOWN, `the node left the cluster before request ${ts} was sent`),
      );
      return;
    }
    if (t.range) {
      if (!this.addRangeSlices(t, [t.range.range], view)) return;
      if (t.slices.length === 0) this.complete(ts, t);
      for (let i = 0; i < t.slices.length; i++) this.sendSlice(t, i);
      return;
    }
    const n = t.kv.keys.length;
    if (n === 0 && !(t.push && t.iteration !== undefined)) {
      this.complete(ts, t);
      return;
    }
    if (!this.addSlices(t, [0, n], view, false)) return;
    for (let i = 0; i < t.slices.length; i++) this.sendSlice(t, i);
  }

  /**
   * Slices the keys at index intervals `iv` of task `t` by the view's ring and appends one slice
   * per owning server. Returns false (and fails the task) when no server holds the ring.
   */
  private addSlices(t: Task, iv: readonly number[], view: ClusterView, resend: boolean): boolean {
    const ring = view.ring;
    if (ring.size === 0) {
      this.fail(
        t.ts,
        new PsError(PsErrorCode.NODE_DEAD, `no live server holds the key ranges of request ${t.ts}`),
      );
      return false;
    }
    const { keys } = t.kv;
    const byOwner = new Map<NodeId, number[]>();
    for (let i = 0; i < iv.length; i += 2) {
      const b = iv[i]!;
      const e = iv[i + 1]!;
      const part = b === 0 && e === keys.length ? keys : keys.subarray(b, e);
      for (const s of ring.slice(part)) {
        let list = byOwner.get(s.owner);
        if (!list) {
          list = [];
          byOwner.set(s.owner, list);
        }
        const lo = b + s.begin;
        const hi = b + s.end;
        if (list.length > 0 && list[list.length - 1] === lo) list[list.length - 1] = hi;
        else list.push(lo, hi);
      }
    }
    // Sync mode: every server hears from this worker for the iteration, with no keys if need be.
    if (t.push && t.iteration !== undefined && !resend) {
      for (const server of ring.servers) if (!byOwner.has(server)) byOwner.set(server, []);
    }
    for (const server of byOwner.keys()) {
      if (view.dead.includes(server)) {
        this.fail(
          t.ts,
          new PsError(
            PsErrorCode.NODE_DEAD,
            `server ${server} owning part of request ${t.ts} is dead, with no replica to take over`,
          ),
        );
        return false;
      }
    }
    for (const [server, siv] of byOwner) {
      const part = gatherKV(t.kv, siv, t.push, t.valOffsets);
      const data: Segment[] = [part.keys];
      if (t.push) {
        data.push(part.vals);
        if (part.lens) data.push(part.lens);
      }
      t.slices.push({
        server,
        iv: siv,
        keys: part.keys,
        data,
        done: false,
        replaced: false,
        resend,
        ring: ring.version,
        task: t,
        index: t.slices.length,
        id: ++this.lastSliceId,
      });
      t.remaining++;
    }
    return true;
  }

  /** Appends one slice per server owning part of `ranges` on the view's ring (a range pull). */
  private addRangeSlices(t: Task, ranges: readonly KeyRange[], view: ClusterView): boolean {
    const ring = view.ring;
    if (ring.size === 0 && ranges.some((r) => r.end > r.begin)) {
      this.fail(
        t.ts,
        new PsError(PsErrorCode.NODE_DEAD, `no live server holds the key ranges of request ${t.ts}`),
      );
      return false;
    }
    for (const [server, parts] of sliceRanges(ring, ranges)) {
      if (view.dead.includes(server)) {
        this.fail(
          t.ts,
          new PsError(
            PsErrorCode.NODE_DEAD,
            `server ${server} owning part of range pull ${t.ts} is dead, with no replica to take over`,
          ),
        );
        return false;
      }
      t.slices.push({
        server,
        iv: [],
        keys: new BigUint64Array(0),
        data: [],
        done: false,
        replaced: false,
        resend: false,
        ring: ring.version,
        task: t,
        index: t.slices.length,
        id: ++this.lastSliceId,
        ranges: parts,
      });
      t.remaining++;
    }
    return true;
  }

  /** Replaces slices `which` of a sent task by slices of their keys on the view's ring, and sends them. */
  private reslice(t: Task, which: readonly number[], view: ClusterView): void {
    if (++t.reslices > MAX_RESLICES) {
      this.fail(
        t.ts,
        new PsError(
          PsErrorCode.WRONG_OWNER,
          `request ${t.ts} was re-sliced ${MAX_RESLICES} times and the ring did not settle${t.lastRefusal ? ` (last refusal: ${t.lastRefusal})` : ''}`,
        ),
      );
      return;
    }
    const pairs: [number, number][] = [];
    const ranges: KeyRange[] = [];
    for (const i of which) {
      const s = t.slices[i]!;
      s.replaced = true;
      this.resends.delete(s);
      t.remaining--;
      for (let k = 0; k < s.iv.length; k += 2) pairs.push([s.iv[k]!, s.iv[k + 1]!]);
      if (s.ranges) ranges.push(...s.ranges);
    }
    if (t.range) {
      const first = t.slices.length;
      if (!this.addRangeSlices(t, joinRanges(ranges), view)) return;
      for (let j = first; j < t.slices.length; j++) this.sendSlice(t, j);
      return;
    }
    pairs.sort((a, b) => a[0] - b[0]);
    const iv: number[] = [];
    for (const [b, e] of pairs) {
      if (iv.length > 0 && iv[iv.length - 1] === b) iv[iv.length - 1] = e;
      else iv.push(b, e);
    }
    const first = t.slices.length;
    if (!this.addSlices(t, iv, view, t.push)) return;
    for (let j = first; j < t.slices.length; j++) this.sendSlice(t, j);
  }

  /** Sends slice `i` of a task to its server, with the dependencies that server must honour. */
  private sendSlice(t: Task, i: number): void {
    const { ts } = t;
    const slice = t.slices[i]!;
    const server = slice.server;
    // The dependencies a server must order this task after: unfinished ones that touched it.
    let deps: number[] | undefined;
    for (const d of t.deps) {
      const dt = this.pending.get(d);
      if (dt?.slices.some((s) => s.server === server && !s.done && !s.replaced)) {
        deps = deps ?? [];
        deps.push(d);
      }
    }
    const meta: Omit<Meta, 'sender' | 'recipient'> = {
      app: this.app,
      ts,
      request: true,
      push: t.push,
      pull: t.pull,
      done: this.doneBelow,
      ring: slice.ring,
      part: i,
      inc: this.incarnation,
    };
    if (slice.resend) meta.resend = true;
    if (deps) meta.deps = deps;
    if (slice.ranges) meta.range = rangeRequestToWire(slice.ranges, t.range!.limits);
    if (t.iteration !== undefined) meta.iter = t.iteration;
    const sent = this.node.send(server, meta, this.hinted(t, slice));
    this.resends.add(slice, server, t.deadline);
    sent.catch((err: unknown) => {
      const e = err instanceof PsError ? err : new PsError(PsErrorCode.PEER_UNREACHABLE, String(err));
      // A lost connection: the resend table sends the slice again (on reconnect, or after its
      // interval) until the deadline; the server applies it once. Anything else fails the task.
      if (RETRYABLE_SEND.has(e.code)) {
        this.node.log.debug(`request ${ts} to ${server} not sent yet: ${e.message}`);
        return;
      }
      this.fail(ts, e);
    });
  }

  /**
   * A slice's segments, on its first send with what a server in this thread may use (see
   * `LocalHint`): the caller's `into` and the keys' validation tag, when the slice is the whole
   * request. A transport that frames the message drops the hint; resends never carry it.
   */
  private hinted(t: Task, slice: Slice): Segment[] {
    const first = !slice.sentOnce;
    slice.sentOnce = true;
    if (!first || slice.keys !== t.kv.keys) return slice.data;
    const hint: LocalHint = {};
    if (t.keysTag >= 0) hint.keys = { tag: t.keysTag, inc: this.incarnation };
    const { into } = t;
    if (into) {
      hint.into = { vals: into, live: () => this.pending.get(t.ts) === t && !slice.done && !slice.replaced };
    }
    return hint.keys || hint.into ? withLocalHint(slice.data.slice(), hint) : slice.data;
  }

  /** Sends an unanswered slice again (same ts and part: the server applies it once). */
  private resendSlice(slice: Slice): void {
    const t = slice.task;
    if (this.pending.get(t.ts) !== t || slice.done || slice.replaced) {
      this.resends.delete(slice);
      return;
    }
    slice.resend = t.push;
    this.sendSlice(t, slice.index);
  }

  /** A slice passed its task's deadline unanswered: the task fails with `PS_ERR_TIMEOUT`. */
  private expire(slice: Slice, waitedMs: number, peer: string): void {
    const t = slice.task;
    if (this.pending.get(t.ts) !== t || slice.done || slice.replaced) return;
    this.fail(
      t.ts,
      new PsError(
        PsErrorCode.TIMEOUT,
        `request ${t.ts} (${t.op}) got no answer from server ${peer} within ${this.requestTimeoutMs} ms (waited ${Math.round(waitedMs)} ms since first sending it there, resending meanwhile); is ${peer} alive and reachable?`,
        { peer, waitedMs: Math.round(waitedMs) },
      ),
    );
  }

  private onResponse(msg: Message): void {
    const { meta, data } = msg;
    const p = this.pending.get(meta.ts);
    if (!p) return; // late answer to a failed request
    const index =
      meta.part !== undefined
        ? meta.part
        : p.slices.findIndex((s) => s.server === meta.sender && !s.done && !s.replaced);
    const slice = p.slices[index];
    if (slice?.replaced) return; // answer to a slice already resent elsewhere
    if (slice?.done && slice.server === meta.sender) return; // a second answer, to a resend
    if (!slice || slice.server !== meta.sender || slice.done || !p.sent) {
      this.node.log.warn(`unexpected response from ${meta.sender} for ts ${meta.ts}; dropped`);
      return;
    }
    if (meta.error) {
      // The server lost the key list this slice named by signature: the key-caching filter has
      // already forgotten what it believed that server holds, so a resend carries the keys.
      if (meta.error.code === PsErrorCode.KEY_CACHE_MISS && (slice.cacheResends ?? 0) < MAX_CACHE_RESENDS) {
        slice.cacheResends = (slice.cacheResends ?? 0) + 1;
        this.sendSlice(p, index);
        return;
      }
      if (meta.error.code === PsErrorCode.WRONG_OWNER) {
        // Resending to this server is pointless until the ring changes: the slice is re-sliced.
        this.resends.delete(slice);
        this.onWrongOwner(p, index, meta.ring ?? 0, PsError.fromWire(meta.error));
        return;
      }
      this.fail(meta.ts, PsError.fromWire(meta.error));
      return;
    }
    if (p.range) {
      try {
        slice.answer = rangeAnswerFromWire(data, meta.range, meta.sender);
      } catch (err) {
        this.fail(meta.ts, err as PsError);
        return;
      }
    } else if (p.pull) {
      const [vals, lens] = data as [Segment?, Segment?];
      const n = slice.keys.length;
      const okVals = vals instanceof Float32Array || vals instanceof Float64Array;
      const okLens = lens === undefined || (lens instanceof Int32Array && lens.length === n);
      const okWidth = lens !== undefined || (okVals && (n === 0 ? vals.length === 0 : vals.length % n === 0));
      if (!okVals || !okLens || !okWidth) {
        this.fail(
          meta.ts,
          new PsError(
            PsErrorCode.MESSAGE_INVALID,
            `server ${meta.sender} answered pull ${meta.ts} with values of the wrong shape`,
          ),
        );
        return;
      }
      slice.vals = vals;
      slice.lens = lens;
      slice.frame = ownedFrameOf(msg);
    }
    slice.done = true;
    this.resends.delete(slice);
    if (this.eventsSubject.observed) {
      this.emit({ type: 'answered', ts: meta.ts, time: performance.now(), server: meta.sender });
    }
    if (--p.remaining === 0) this.complete(meta.ts, p);
  }

  /**
   * A server refused a slice cut by another ring than its own (`ring`): when this worker already
   * has a ring at least that recent, re-slice now (the server will catch up; its answer came
   * before ours); else the slice is replaced when the newer view arrives, and the task fails if
   * it does not arrive within {@link RING_WAIT_MS}.
   */
  private onWrongOwner(t: Task, i: number, ring: number, err: PsError): void {
    const view = this.node.currentView;
    const s = t.slices[i]!;
    t.lastRefusal = `${s.server} on ring ${ring}: ${err.message}`;
    if (view && view.ring.version > s.ring) {
      this.reslice(t, [i], view);
      return;
    }
    if (view && view.ring.version >= ring) {
      // The server was behind us: give it a moment to catch up, then resend.
      const delay = Math.min(200, 5 * 2 ** Math.min(t.reslices, 5));
      setTimeout(() => {
        const v = this.node.currentView;
        if (v && this.pending.get(t.ts) === t && !s.done && !s.replaced) this.reslice(t, [i], v);
      }, delay).unref?.();
      return;
    }
    setTimeout(() => {
      if (this.pending.get(t.ts) === t && !s.done && !s.replaced) this.fail(t.ts, err);
    }, RING_WAIT_MS).unref?.();
  }

  private complete(ts: number, p: Task): void {
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: p.range ? assembleRange(p) : p.pull ? assemble(p) : undefined };
      if (p.pull && !p.range) releaseAnswerFrames(p.slices, outcome.value as KVPairs);
    } catch (err) {
      outcome = { ok: false, error: err as PsError };
    }
    this.finish(ts, p, outcome);
  }

  /** Records a task's end, hands its outcome to its waiters (or keeps it), and releases held tasks. */
  private finish(ts: number, p: Task, outcome: Outcome): void {
    this.pending.delete(ts);
    BusyPoll.shared.awaiting(-1);
    for (const s of p.slices) if (!s.done) this.resends.delete(s);
    if (ts === this.doneBelow) {
      this.doneBelow++;
      while (this.doneAbove.delete(this.doneBelow)) this.doneBelow++;
    } else this.doneAbove.add(ts);
    if (outcome.ok && p.sentAt) this.requestMetrics.observe(p.op, (performance.now() - p.sentAt) / 1000);
    if (this.eventsSubject.observed) {
      const time = performance.now();
      this.emit({ type: 'finished', ts, time, durationMs: p.sentAt ? time - p.sentAt : 0, ok: outcome.ok });
    }
    if (p.waiters.length === 0) {
      // Keep pulls and failures for a later wait; a finished push needs no record.
      if (p.pull || !outcome.ok) this.finished.set(ts, outcome);
    } else {
      for (const w of p.waiters) {
        if (outcome.ok) w.resolve(outcome.value);
        else w.reject(outcome.error);
      }
    }
    this.release();
  }

  private fail(ts: number, error: PsError): void {
    const p = this.pending.get(ts);
    if (!p) return;
    this.finish(ts, p, { ok: false, error });
  }

  private failAll(error: PsError): void {
    for (const ts of this.pending.keys()) this.fail(ts, error);
    this.resends.close();
    this.links.unsubscribe();
    this.sub.unsubscribe();
    this.eventsSubject.complete();
  }
}

/** Joins the servers' answers to a range pull into its page. */
function assembleRange(p: Task): RangePage {
  const parts = [];
  for (const s of p.slices) if (!s.replaced) parts.push({ ranges: s.ranges!, answer: s.answer! });
  return assemblePage(parts, p.range!.limits.limit ?? Number.POSITIVE_INFINITY);
}

/** Joins the servers' answers in key order (each slice's values go back to its key intervals). */
function assemble(p: Task): KVPairs {
  const { keys } = p.kv;
  const slices = p.slices.filter((s) => !s.replaced);
  const { into } = p;
  if (into) {
    let total = 0;
    for (const s of slices) total += s.vals!.length;
    if (total !== into.length) {
      throw new PsError(
        PsErrorCode.INTO_LENGTH,
        `the servers answered pull ${p.ts} with ${total} values for ${keys.length} keys, but into has ${into.length}; size into as keys × values per key`,
        { into: into.length, expected: total },
      );
    }
  }
  if (slices.length === 0) return { keys, vals: into ?? new Float32Array(0) };
  if (slices.length === 1) {
    const s = slices[0]!;
    // A server in this thread may have written the answer into `into` itself.
    if (into && s.vals !== into) into.set(s.vals!);
    return { keys, vals: into ?? s.vals!, lens: s.lens };
  }
  const dtype = dtypeOf(slices[0]!.vals);
  const widths = slices.map((s) => (s.lens ? -1 : s.keys.length > 0 ? s.vals!.length / s.keys.length : 0));
  const uniform = widths.every((w) => w >= 0 && w === widths[0]);
  let total = 0;
  for (const s of slices) {
    if (dtypeOf(s.vals) !== dtype) {
      throw new PsError(
        PsErrorCode.DTYPE,
        'servers answered one pull with different value dtypes; give every server the same handler',
      );
    }
    total += s.vals!.length;
  }
  const vals: ValArray = into ?? (dtype === 'float64' ? new Float64Array(total) : new Float32Array(total));
  if (uniform) {
    const w = widths[0]!;
    for (const s of slices) {
      let o = 0;
      for (let i = 0; i < s.iv.length; i += 2) {
        const b = s.iv[i]!;
        const e = s.iv[i + 1]!;
        vals.set(s.vals!.subarray(o, o + (e - b) * w), b * w);
        o += (e - b) * w;
      }
    }
    return { keys, vals };
  }
  // Variable lengths: first every key's length, then the values at their offsets.
  const lens = new Int32Array(keys.length);
  slices.forEach((s, si) => {
    let k = 0;
    for (let i = 0; i < s.iv.length; i += 2) {
      for (let j = s.iv[i]!; j < s.iv[i + 1]!; j++) lens[j] = s.lens ? s.lens[k++]! : widths[si]!;
    }
  });
  const offsets = valueOffsets(lens);
  for (const s of slices) {
    let o = 0;
    for (let i = 0; i < s.iv.length; i += 2) {
      const b = s.iv[i]!;
      const e = s.iv[i + 1]!;
      const len = offsets[e]! - offsets[b]!;
      vals.set(s.vals!.subarray(o, o + len), offsets[b]!);
      o += len;
    }
  }
  return { keys, vals, lens };
}

/**
 * Checks a caller's answer buffer: a float array, of `expected` values when that is known before
 * the answer (a pushPull; for a pull the servers' answer decides, and is checked on arrival).
 */
function checkInto(into: unknown, expected: number | undefined): void {
  if (!(into instanceof Float32Array || into instanceof Float64Array)) {
    throw new PsError(
      PsErrorCode.INTO_LENGTH,
      'into must be a Float32Array or Float64Array that receives the pulled values',
    );
  }
  if (expected !== undefined && into.length !== expected) {
    throw new PsError(
      PsErrorCode.INTO_LENGTH,
      `into has ${into.length} values but this pushPull reads ${expected} (as many as it pushes); size into as kv.vals.length`,
      { into: into.length, expected },
    );
  }
}

/** `n` random hex digits. */
function randomHex(n: number): string {
  const b = new Uint8Array(Math.ceil(n / 2));
  globalThis.crypto.getRandomValues(b);
  let out = '';
  for (const x of b) out += x.toString(16).padStart(2, '0');
  return out.slice(0, n);
}
