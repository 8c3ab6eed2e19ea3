import { type KeyRange, lowerBound } from '../wire/key-range.js';
import { keyWords } from '../wire/kv-pairs.js';

/** Bounds of a `ReceiveWindow`, per sender. */
export interface ReceiveWindowLimits {
  /** Requests remembered per sender (default 4,096). */
  maxEntries: number;
  /** Bytes of remembered keys per sender (default 32 MiB). */
  maxBytes: number;
}

export const DEFAULT_RECEIVE_WINDOW: ReceiveWindowLimits = { maxEntries: 4_096, maxBytes: 32 * 1024 * 1024 };

/** What a receiver knows of one part of a request (`ts`, `part`) from one sender. */
export type PartState = 'new' | 'running' | 'answered' | 'stale' | 'forgotten';

/** One application of a push's keys here, as master or as a link of its chain: `replicated` settles when the rest of the chain holds it. */
interface Application {
  keys: BigUint64Array;
  replicated: Promise<unknown>;
}

interface TsRecord {
  ts: number;
  apps: Application[];
  parts: Map<number, 'running' | 'answered'>;
  bytes: number;
}

interface OriginWindow {
  inc: string;
  records: Map<number, TsRecord>;
  /** Requests below this the sender said finished: any copy of one is stale and dropped. */
  doneBelow: number;
  /** Records below this were evicted for room: a resend of one cannot be judged. */
  evictedBelow: number;
  bytes: number;
}

/** Keys a resent push still needs applied, and the applications of the rest to wait for. */
export interface Coverage {
  /** Index intervals `[b0, e0, b1, e1, ...]` of the request's keys never applied here. */
  fresh: number[];
  /** How many keys were applied here before. */
  covered: number;
  /** Settle when the replicas hold what was applied before. */
  waits: Promise<unknown>[];
}

/** A window's records for some key ranges, to hand to a server taking them over. */
export type WindowExport = { origin: string; inc: string; ts: number; keys: BigUint64Array }[];

const RESOLVED = Promise.resolve();

/**
 * The receiver's side of delivery: per sender (its id and incarnation), the requests seen
 * recently and the exact keys of every push applied here (as master, or as replica from a
 * master's forward), so that a resent request is applied once and a resent push applies exactly
 * the keys never applied here, wherever they were first sent. A request is identified by its
 * sender's timestamp `ts` and slice `part`; a new incarnation of a sender starts a new window.
 *
 * Bounded per sender by {@link ReceiveWindowLimits}: the oldest records are evicted first, and a
 * resend of an evicted request is reported as `forgotten` (the caller refuses it with
 * `PS_ERR_WINDOW` rather than risk applying it twice). Records below the sender's `done` mark
 * are dropped as they become useless. The hot path is a map lookup per request.
 */
export class ReceiveWindow {
  private readonly origins = new Map<string, OriginWindow>();

  constructor(private readonly limits: ReceiveWindowLimits = DEFAULT_RECEIVE_WINDOW) {}

  private originOf(origin: string, inc: string): OriginWindow {
    let o = this.origins.get(origin);
    if (!o || o.inc !== inc) {
      o = { inc, records: new Map(), doneBelow: 0, evictedBelow: 0, bytes: 0 };
      this.origins.set(origin, o);
    }
    return o;
  }

  private recordOf(o: OriginWindow, ts: number): TsRecord {
    let r = o.records.get(ts);
    if (!r) {
      r = { ts, apps: [], parts: new Map(), bytes: 64 };
      o.records.set(ts, r);
      o.bytes += r.bytes;
      this.evict(o);
    }
    return r;
  }

  private evict(o: OriginWindow): void {
    while (
      o.records.size > this.limits.maxEntries ||
      (o.bytes > this.limits.maxBytes && o.records.size > 1)
    ) {
      const first = o.records.values().next().value as TsRecord;
      o.records.delete(first.ts);
      o.bytes -= first.bytes;
      if (first.ts + 1 > o.evictedBelow) o.evictedBelow = first.ts + 1;
    }
  }

  /** The sender says every request below `doneBelow` finished: forget them. Amortized O(1). */
  done(origin: string, inc: string, doneBelow: number | undefined): void {
    if (doneBelow === undefined) return;
    const o = this.originOf(origin, inc);
    if (doneBelow <= o.doneBelow) return;
    o.doneBelow = doneBelow;
    for (const r of o.records.values()) {
      if (r.ts >= doneBelow) break;
      o.records.delete(r.ts);
      o.bytes -= r.bytes;
    }
  }

  /**
   * What this receiver knows of part `part` of request `ts`: `new` (never seen, or only its keys
   * through a forward), `running`, `answered`, `stale` (a copy of a request the sender already
   * called finished: drop it) or `forgotten` (a resend of a request evicted from the window).
   */
  state(origin: string, inc: string, ts: number, part: number, resend: boolean): PartState {
    const o = this.originOf(origin, inc);
    if (ts < o.doneBelow) return 'stale';
    const r = o.records.get(ts);
    const s = r?.parts.get(part);
    if (s) return s;
    if (!r && resend && ts < o.evictedBelow) return 'forgotten';
    return 'new';
  }

  /** Records the state of a part (running when admitted, answered once its answer went out). */
  mark(origin: string, inc: string, ts: number, part: number, state: 'running' | 'answered'): void {
    this.recordOf(this.originOf(origin, inc), ts).parts.set(part, state);
  }

  /** Forgets a part whose request failed without applying anything, so a resend runs afresh. */
  unmark(origin: string, inc: string, ts: number, part: number): void {
    const o = this.origins.get(origin);
    if (o?.inc === inc) o.records.get(ts)?.parts.delete(part);
  }

  /**
   * Records that `keys` of push `ts` were applied here; `replicated` settles once the links after
   * this server in their chains hold them (resolved for the tail's own application).
   */
  applied(
    origin: string,
    inc: string,
    ts: number,
    keys: BigUint64Array,
    replicated: Promise<unknown> = RESOLVED,
  ): void {
    const o = this.originOf(origin, inc);
    if (ts < o.doneBelow) return;
    // Keep the keys without pinning the frame they arrived in (its values may be much larger).
    const own = keys.buffer.byteLength > 2 * keys.byteLength ? keys.slice() : keys;
    const r = this.recordOf(o, ts);
    r.apps.push({ keys: own, replicated });
    r.bytes += own.byteLength;
    o.bytes += own.byteLength;
    this.evict(o);
  }

  /**
   * Which of a resent push's sorted `keys` were applied here before (by any earlier copy of
   * request `ts`, as master or replica). Exact: key by key, by binary search in each earlier
   * application (O(n log m); resends are rare). `undefined` when nothing of `ts` was applied here.
   */
  coverage(origin: string, inc: string, ts: number, keys: BigUint64Array): Coverage | undefined {
    const r = this.origins.get(origin);
    const rec = r && r.inc === inc ? r.records.get(ts) : undefined;
    if (!rec || rec.apps.length === 0) return undefined;
    const fresh: number[] = [];
    const waits = new Set<Promise<unknown>>();
    let covered = 0;
    const words = rec.apps.map((a) => keyWords(a.keys));
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      let hit = false;
      for (let a = 0; a < rec.apps.length; a++) {
        const ak = rec.apps[a]!.keys;
        const j = lowerBound(ak, k, words[a]);
        if (j < ak.length && ak[j] === k) {
          hit = true;
          waits.add(rec.apps[a]!.replicated);
          break;
        }
      }
      if (hit) covered++;
      else if (fresh.length > 0 && fresh[fresh.length - 1] === i) fresh[fresh.length - 1] = i + 1;
      else fresh.push(i, i + 1);
    }
    return { fresh, covered, waits: [...waits] };
  }

  /** The records of keys in `ranges`, to send with a range copy. */
  export(ranges: readonly KeyRange[]): WindowExport {
    const out: WindowExport = [];
    for (const [origin, o] of this.origins) {
      for (const r of o.records.values()) {
        for (const a of r.apps) {
          const words = keyWords(a.keys);
          const parts: BigUint64Array[] = [];
          for (const range of ranges) {
            const b = lowerBound(a.keys, range.begin, words);
            const e = lowerBound(a.keys, range.end, words);
            if (b < e) parts.push(a.keys.subarray(b, e));
          }
          if (parts.length === 0) continue;
          const n = parts.reduce((s, p) => s + p.length, 0);
          const keys = new BigUint64Array(n);
          let at = 0;
          for (const p of parts) {
            keys.set(p, at);
            at += p.length;
          }
          out.push({ origin, inc: o.inc, ts: r.ts, keys: keys.sort() });
        }
      }
    }
    return out;
  }

  /** Takes the records of a range copy (the copy's values include those pushes). */
  import(records: WindowExport): void {
    for (const r of records) this.applied(r.origin, r.inc, r.ts, r.keys);
  }
}
