import { defer, from, type Observable, type Subscription } from 'rxjs';
import { PsError, PsErrorCode } from './errors.js';
import { ValidatedKeys } from './internal/validated-keys.js';
import { lowerBound } from './key-range.js';
import { dtypeOf, type KVPairs, keyWords, type ValArray, validateKVPairs } from './kv-pairs.js';
import type { Message, NodeId, Segment } from './message.js';
import type { PsNode } from './ps-node.js';

/**
 * A request's timestamp: a number, branded with what `wait` resolves to (`void` for a push,
 * the pulled KVPairs for a pull or pushPull).
 */
export type Timestamp<T = unknown> = number & { readonly __result?: T };

/** Options of {@link KVWorker}. */
export interface KVWorkerOptions {
  /** App id (table) this worker talks to. Default 0. */
  app?: number;
}

interface Slice {
  server: NodeId;
  lo: number;
  hi: number;
  vals?: ValArray;
  lens?: Int32Array;
  done: boolean;
}

interface Pending {
  pull: boolean;
  keys: BigUint64Array;
  slices: Slice[];
  remaining: number;
  waiters: { resolve: (v: KVPairs | undefined) => void; reject: (e: PsError) => void }[];
}

type Outcome = { ok: true; value: KVPairs | undefined } | { ok: false; error: PsError };

/**
 * The worker side of one app id (ps-lite's KVWorker): `push`, `pull` and `pushPull` slice a
 * request by the servers' key ranges, send the slices, and return a timestamp at once;
 * `wait(ts)` resolves when every server touched has answered. Pulled values come back in key
 * order. The arrays passed to `push` must not be changed until its `wait` resolves (they are
 * sent without a copy).
 */
export class KVWorker {
  readonly app: number;
  private nextTs = 0;
  private readonly pending = new Map<number, Pending>();
  /** Finished requests whose outcome nobody has collected yet (pulls, and failures). */
  private readonly finished = new Map<number, Outcome>();
  private readonly sub: Subscription;
  private readonly validated = new ValidatedKeys();
  private readonly checkKeys = (keys: BigUint64Array) => this.validated.validate(keys);

  constructor(
    readonly node: PsNode,
    opts: KVWorkerOptions = {},
  ) {
    this.app = opts.app ?? 0;
    node.attach(this.app, 'worker', (msg) => this.onResponse(msg));
    node.onTerminate((err) => this.failAll(err));
    this.sub = node.cluster$.subscribe((view) => {
      if (!view || view.dead.length === 0) return;
      const dead = new Set(view.dead);
      for (const [ts, p] of this.pending) {
        const lost = p.slices.find((s) => !s.done && dead.has(s.server));
        if (lost) {
          this.fail(
            ts,
            new PsError(PsErrorCode.NODE_DEAD, `server ${lost.server} died before answering request ${ts}`),
          );
        }
      }
    });
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Pushes values to the servers (each applies its handler, e.g. adds them).
   * @returns the request's timestamp; `await wait(ts)` for its completion.
   * @throws PsError (synchronously) for invalid KVPairs: `PS_ERR_KEYS_UNSORTED`,
   *   `PS_ERR_KEYS_DUPLICATE`, `PS_ERR_VALS_LENGTH`, `PS_ERR_LENS_LENGTH`, `PS_ERR_LENS_SUM`, `PS_ERR_DTYPE`.
   */
  push(kv: KVPairs): Timestamp<void> {
    validateKVPairs(kv, this.checkKeys);
    return this.issue(kv, true, false) as Timestamp<void>;
  }

  /**
   * Pulls the values of `keys` (strictly increasing). `wait(ts)` resolves to `{ keys, vals, lens? }`
   * with values in key order: `vals.length / keys.length` per key, or `lens` when the table holds
   * variable-length values. A key no server holds reads as zeros.
   * @throws PsError `PS_ERR_KEYS_UNSORTED` or `PS_ERR_KEYS_DUPLICATE` (synchronously).
   */
  pull(keys: BigUint64Array): Timestamp<KVPairs> {
    this.checkKeys(keys);
    return this.issue({ keys, vals: new Float32Array(0) }, false, true) as Timestamp<KVPairs>;
  }

  /** Pushes, then pulls the same keys in one round trip (the values after this push was applied). */
  pushPull(kv: KVPairs): Timestamp<KVPairs> {
    validateKVPairs(kv, this.checkKeys);
    return this.issue(kv, true, true) as Timestamp<KVPairs>;
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
      return new Promise<KVPairs | undefined>((resolve, reject) =>
        p.waiters.push({ resolve, reject }),
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

  /** `push` as an Observable: emits once (undefined) and completes when the push is applied. */
  push$(kv: KVPairs): Observable<void> {
    return defer(() => from(this.wait(this.push(kv))));
  }

  /** `pull` as an Observable: emits the pulled KVPairs and completes. */
  pull$(keys: BigUint64Array): Observable<KVPairs> {
    return defer(() => from(this.wait(this.pull(keys))));
  }

  /** `pushPull` as an Observable: emits the pulled KVPairs and completes. */
  pushPull$(kv: KVPairs): Observable<KVPairs> {
    return defer(() => from(this.wait(this.pushPull(kv))));
  }

  private issue(kv: KVPairs, push: boolean, pull: boolean): number {
    const ts = this.nextTs++;
    const view = this.node.view;
    const { keys, vals, lens } = kv;
    const words = keyWords(keys);
    const width = push && !lens && keys.length > 0 ? vals.length / keys.length : 0;
    let valOffsets: Int32Array | undefined;
    if (push && lens) {
      valOffsets = new Int32Array(keys.length + 1);
      for (let i = 0; i < keys.length; i++) valOffsets[i + 1] = valOffsets[i]! + lens[i]!;
    }
    const p: Pending = { pull, keys, slices: [], remaining: 0, waiters: [] };
    const sends: { server: NodeId; data: Segment[] }[] = [];
    for (let s = 0; s < view.servers.length; s++) {
      const range = view.ranges[s]!;
      const lo = lowerBound(keys, range.begin, words);
      const hi = lowerBound(keys, range.end, words);
      if (lo === hi) continue;
      const server = view.servers[s]!.id;
      const data: Segment[] = [keys.subarray(lo, hi)];
      if (push) {
        if (valOffsets && lens) {
          data.push(vals.subarray(valOffsets[lo]!, valOffsets[hi]!), lens.subarray(lo, hi));
        } else data.push(vals.subarray(lo * width, hi * width));
      }
      p.slices.push({ server, lo, hi, done: false });
      sends.push({ server, data });
    }
    p.remaining = p.slices.length;
    const dead = view.dead.length > 0 ? p.slices.find((sl) => view.dead.includes(sl.server)) : undefined;
    if (dead) {
      this.finished.set(ts, {
        ok: false,
        error: new PsError(
          PsErrorCode.NODE_DEAD,
          `server ${dead.server} owning part of request ${ts} is dead`,
        ),
      });
      return ts;
    }
    if (p.remaining === 0) {
      this.finished.set(ts, { ok: true, value: pull ? { keys, vals: new Float32Array(0) } : undefined });
      if (!pull) this.finished.delete(ts);
      return ts;
    }
    this.pending.set(ts, p);
    for (const { server, data } of sends) {
      this.node
        .send(server, { app: this.app, ts, request: true, push, pull }, data)
        .catch((err: unknown) =>
          this.fail(
            ts,
            err instanceof PsError ? err : new PsError(PsErrorCode.PEER_UNREACHABLE, String(err)),
          ),
        );
    }
    return ts;
  }

  private onResponse(msg: Message): void {
    const { meta, data } = msg;
    const p = this.pending.get(meta.ts);
    if (!p) return; // late answer to a failed request
    const slice = p.slices.find((s) => s.server === meta.sender && !s.done);
    if (!slice) {
      this.node.log.warn(`unexpected response from ${meta.sender} for ts ${meta.ts}; dropped`);
      return;
    }
    if (meta.error) {
      this.fail(meta.ts, PsError.fromWire(meta.error));
      return;
    }
    if (p.pull) {
      const [vals, lens] = data as [Segment?, Segment?];
      const n = slice.hi - slice.lo;
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
    }
    slice.done = true;
    if (--p.remaining === 0) this.complete(meta.ts, p);
  }

  private complete(ts: number, p: Pending): void {
    this.pending.delete(ts);
    let value: KVPairs | undefined;
    try {
      value = p.pull ? assemble(p) : undefined;
    } catch (err) {
      this.settle(ts, p, { ok: false, error: err as PsError });
      return;
    }
    this.settle(ts, p, { ok: true, value });
  }

  private settle(ts: number, p: Pending, outcome: Outcome): void {
    if (p.waiters.length === 0) {
      // Keep pulls and failures for a later wait; a finished push needs no record.
      if (p.pull || !outcome.ok) this.finished.set(ts, outcome);
      return;
    }
    for (const w of p.waiters) {
      if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    }
  }

  private fail(ts: number, error: PsError): void {
    const p = this.pending.get(ts);
    if (!p) return;
    this.pending.delete(ts);
    this.settle(ts, p, { ok: false, error });
  }

  private failAll(error: PsError): void {
    for (const ts of [...this.pending.keys()]) this.fail(ts, error);
    this.sub.unsubscribe();
  }
}

/** Joins the servers' answers in key order (slices are in key order by construction). */
function assemble(p: Pending): KVPairs {
  const { keys, slices } = p;
  if (slices.length === 1) {
    const s = slices[0]!;
    return { keys, vals: s.vals!, lens: s.lens };
  }
  const dtype = dtypeOf(slices[0]!.vals);
  const widths = slices.map((s) => (s.lens ? -1 : s.hi > s.lo ? s.vals!.length / (s.hi - s.lo) : 0));
  const uniform = widths.every((w) => w >= 0 && w === widths[0]);
  let total = 0;
  for (const s of slices) total += s.vals!.length;
  const vals: ValArray = dtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
  const lens = uniform ? undefined : new Int32Array(keys.length);
  let o = 0;
  slices.forEach((s, i) => {
    if (dtypeOf(s.vals) !== dtype) {
      throw new PsError(
        PsErrorCode.DTYPE,
        'servers answered one pull with different value dtypes; give every server the same handler',
      );
    }
    vals.set(s.vals!, o);
    o += s.vals!.length;
    if (lens) {
      if (s.lens) lens.set(s.lens, s.lo);
      else lens.fill(widths[i]!, s.lo, s.hi);
    }
  });
  return { keys, vals, lens };
}
