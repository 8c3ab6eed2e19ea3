import {
  type Filter,
  type FilterContext,
  isPsError,
  type KVPairs,
  KVTable,
  keyWords,
  type Message,
  type NodeId,
  PsError,
  PsErrorCode,
  type Segment,
} from '@ps/core';
import { filterMetaOf, withFilterMeta, withoutFilterMeta } from './filter-meta.js';

/** Options of {@link significantUpdate}. */
export interface SignificantUpdateOptions {
  /**
   * A value travels when its magnitude exceeds this (pushes: the value plus what was held back
   * for its key; pull responses: its change since the peer last received it). A finite number
   * >= 0; 0 sends every nonzero push value and every changed pulled value. Part of the signature.
   */
  threshold: number;
  /**
   * Every `flushEvery`-th push request to a peer, and every `flushEvery`-th pull response to a
   * peer (counted apart, per app), is sent whole: each value plus what was held back for its key,
   * whatever its size. Bounds how long a regularly pushed key's update can wait, and makes a
   * worker's pulled values exact once in that many responses. The sender's choice only (not part
   * of the signature). Default: never.
   */
  flushEvery?: number;
}

/** The residuals held back for one peer and app, as {@link SignificantUpdateFilter.flush} returns them. */
export interface PendingResiduals extends KVPairs<Float64Array> {
  /** The server they were held back from. */
  peer: NodeId;
  /** The app (table) of the pushes. */
  app: number;
}

/** The significant-update filter: a `Filter` with the sender-side controls of its pushes. */
export interface SignificantUpdateFilter extends Filter {
  /**
   * Takes the residuals held back from pushes to `peer` (every peer when omitted) and clears
   * them (and the `flushEvery` count of pushes): one entry per peer and app with a nonzero
   * residual (float64 `vals`: the residuals exactly; a float32 table converts them on push),
   * keys strictly increasing, a key listed when any of its values is nonzero (with all
   * of them), `lens` only when the keys listed hold different numbers of values. Sorted by peer,
   * then app. The caller pushes them inside {@link SignificantUpdateFilter.bypass} so that they
   * travel whole: `f.bypass(() => worker.push(r))` for each entry `r` of the worker's app.
   */
  flush(peer?: NodeId): PendingResiduals[];
  /**
   * Runs `fn` with the threshold off: every push request and pull response encoded while `fn`
   * runs is sent whole (value plus residual, residual cleared; every pulled value marked fresh).
   * Only what is encoded synchronously inside `fn` is covered: `KVWorker.push` encodes at once
   * unless the task is held back by its dependencies or the consistency policy; a push encoded
   * later goes through the threshold as usual (nothing is lost: what stays under it stays
   * pending). Returns what `fn` returns.
   */
  bypass<T>(fn: () => T): T;
}

/**
 * What {@link significantUpdate} records under `meta.filters.significant` (msgpack-encodable):
 * - on a pull response it encoded: `n` values, `fresh` of them sent (marked in a bitmap segment
 *   when not all; the others are 0 on the wire), the server's `epoch` for this worker and the response's
 *   sequence number `seq` (per server, worker and app);
 * - on a request with pull, only when the worker lost track of what a server sent it: the
 *   worker's new `epoch`, asking that server to forget what it believes the worker holds.
 * Absent on messages the filter left as they were (every push request in normal operation).
 */
export type SignificantMeta = { n: number; fresh: number; epoch: number; seq: number } | { epoch: number };

const NAME = 'significant';
/** Pushes remembered per peer and app for a resend (same ts) after a key-cache miss. */
const REPLAY_MAX = 64;
const TABLE_CAPACITY = 256;

type Vals = Float32Array | Float64Array;

/** A worker's state for pushes to one server and app. */
interface PushState {
  /** What each key's values hold back (float64): what was pushed and not yet sent. */
  residuals: KVTable | undefined;
  /** Pushes encoded since the last flush (for `flushEvery`). */
  pushes: number;
}

/** One encoded push slice of a task, kept so that a re-slice of the task resends what it sent. */
interface SentSlice {
  peer: NodeId;
  keys: BigUint64Array;
  out: Vals;
  /** Where each key's values start in `out` (`keys.length + 1` entries). */
  offs: Int32Array;
}

/** A server's state for pull responses to one worker and app. */
interface HeldState {
  /** The values the worker holds, as far as this server knows (it sent them). */
  held: KVTable | undefined;
  /** The worker's epoch this state belongs to (0 until the worker asks for a reset). */
  epoch: number;
  /** Sequence number of the next encoded response (uint32). */
  seq: number;
  /** Responses encoded since `held` was created (for `flushEvery`). */
  responses: number;
}

/** A worker's state for pull responses from one server and app. */
interface CacheState {
  /** The last value received for each key; the server sends 0 for those within the threshold. */
  cache: KVTable | undefined;
  /** This worker's epoch for the server: 0, or a random one after it lost track. */
  epoch: number;
  /** The server answered with this epoch (it forgot what it believed the worker held). */
  confirmed: boolean;
  /** The sequence number the next response should carry, once one was seen. */
  nextSeq: number | undefined;
}

/**
 * The significant-update filter (OSDI 2014, section 4.2: the original parameter server's
 * "significantly modified" filter; DESIGN.md, "Filters"). Lossy per message, nothing lost over
 * time for pushes; per-peer state on both sides. Typical chain:
 * `[keyCaching(), significantUpdate({ threshold }), quantize({ bits: 8 }), lz4()]`.
 *
 * **Push requests** (`[keys, vals, lens?]`, encoded by the worker): per server and app, each key
 * keeps a float64 residual (error feedback). For each value, `r = residual + v`; when `|r| >
 * threshold` (or r is NaN or infinite) r is sent and the residual cleared, else 0 is sent and r
 * kept. The key list does not change (a key-caching filter earlier in the chain replaced it by a
 * signature; zeros then shrink under quantize and lz4), and the per-key state is found through
 * `ctx.keys`, not `data[0]`: without `ctx.keys`, or with segments that are not float values (and
 * an optional Int32Array `lens`) matching them, the push travels as it is. Variable-length
 * pushes are handled (a key keeps its length; a push giving a key another length travels as it
 * is). The decode of a push has nothing to undo: the zeros are real zeros.
 *
 * Sum: per key, what was sent plus the residual equals the sum of everything pushed, up to the
 * float64 rounding of `residual + v` (relative 2^-53 per push). A Float32Array push sends r
 * rounded to float32 and keeps the rounding error `r - fround(r)` (exact) in the residual, so
 * float32 adds no error over time either (the residual, at most half a float32 ulp of r, is sent
 * with later updates or flushed); only a value beyond the float32 range travels as infinity, as
 * it would without the filter. What is still held back is taken with {@link
 * SignificantUpdateFilter.flush} and pushed inside {@link SignificantUpdateFilter.bypass}, or
 * goes out with `flushEvery`. A push the server does not apply (it answers with an error, or the
 * connection drops) loses what it carried, as it would without the filter; a resend of the same
 * request (same app and ts, after a key-cache miss) carries exactly what the first send did, and
 * so does a re-slice (`meta.resend`: the ring changed and the worker sends a task's keys to their
 * new server): each key carries what an earlier slice of the task sent for it, and what was held
 * back for it from that slice's server moves to the new one, so nothing is counted twice: per
 * key, the slices a server applied plus what is held equal what was pushed. The filter keeps the
 * slices it encoded for the last 64 tasks per app, dropping those below `meta.done` (finished
 * requests). Memory: a float64 residual per key pushed.
 *
 * **Pull responses** (`[vals]`, encoded by the server with `ctx.keys` = the keys asked for):
 * per worker and app, the server keeps the value it last sent for each key (the value the worker
 * holds). A value is sent when its key is new to this worker, or it moved by more than the
 * threshold (or is NaN) since last sent; otherwise 0 is sent. A bitmap segment (Uint8Array, bit i
 * of byte i >> 3 for value i) marks the values sent: `[vals, bitmap]`, or `[vals]` alone when
 * every value was sent. The worker's decode puts back its cached value for the unmarked ones, so
 * every value the worker gets is within the threshold of the server's (plus the error of lossy
 * filters after this one, such as quantize), and exact on the whole responses of `flushEvery`.
 * The state follows the first response's dtype (float32 halves its memory: the server holds a
 * copy of every value each worker pulled). Left as they are: responses with `lens`
 * (variable-length values), errors, responses without `ctx.keys`, and values that are not a
 * float segment of a whole number of values per key.
 *
 * Both ends must see every encoded response in order (one connection). Should the worker miss
 * one (a sequence-number gap), fail to decode one, or not know its keys, it drops its cache for
 * that server and app, fails that response with a PsError (unless it carries every value, which
 * then restarts the cache), and its next request with pull to
 * that server carries a new epoch in `meta.filters.significant`: the server then forgets what it
 * believed the worker held and sends every value again. A server that could not send a response
 * (it answers with an error instead) forgets as well. A worker's value is never silently more
 * than the threshold away from the server's.
 *
 * **Pull requests and push responses** travel as they are (a request with pull may carry the
 * epoch above).
 *
 * @throws PsError `PS_ERR_CONFIG` for a threshold that is not a finite number >= 0 or a
 *   flushEvery that is not a positive integer.
 * @throws PsError (decode of a pull response) `PS_ERR_MESSAGE_INVALID` when
 *   `meta.filters.significant` is malformed, the keys of the request are unknown, or the worker
 *   does not hold a value the server left out; `PS_ERR_FRAME_MALFORMED` when the segments do not
 *   match the meta.
 *
 * @example
 * ```ts
 * const sig = significantUpdate({ threshold: 1e-4, flushEvery: 50 });
 * const { worker } = await createWorker({ transport: tcp(), filters: [sig, quantize({ bits: 8 }), lz4()] });
 * // ... training pushes ...
 * for (const r of sig.flush()) {
 *   if (r.app === worker.app) await worker.wait(sig.bypass(() => worker.push(r)));
 * }
 * ```
 */
export function significantUpdate(opts: SignificantUpdateOptions): SignificantUpdateFilter {
  const { threshold, flushEvery } = opts;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `significantUpdate: threshold must be a finite number >= 0, got ${String(threshold)}`,
    );
  }
  if (flushEvery !== undefined && !(Number.isInteger(flushEvery) && flushEvery >= 1)) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `significantUpdate: flushEvery must be a positive integer, got ${String(flushEvery)}`,
    );
  }
  const pushStates = new Map<NodeId, Map<number, PushState>>();
  const heldStates = new Map<NodeId, Map<number, HeldState>>();
  const cacheStates = new Map<NodeId, Map<number, CacheState>>();
  /** Push slices encoded per app and ts, to any peer (for re-slices: see `encodePush`). */
  const slicesByTs = new Map<number, Map<number, SentSlice[]>>();
  let bypassing = 0;

  /** The slices of (app, ts) encoded so far, after forgetting finished tasks (below `done`). */
  function slicesOf(app: number, ts: number, done: number | undefined): SentSlice[] {
    const byTs = slicesByTs.get(app);
    if (!byTs) return [];
    if (typeof done === 'number') for (const t of byTs.keys()) if (t < done) byTs.delete(t);
    return byTs.get(ts) ?? [];
  }

  /** Keeps a slice for resends and re-slices of its task (the last REPLAY_MAX tasks per app). */
  function recordSlice(app: number, ts: number, slice: SentSlice): void {
    let byTs = slicesByTs.get(app);
    if (!byTs) {
      byTs = new Map();
      slicesByTs.set(app, byTs);
    }
    const list = byTs.get(ts) ?? [];
    list.push(slice);
    byTs.set(ts, list);
    if (byTs.size > REPLAY_MAX) byTs.delete(byTs.keys().next().value as number);
  }

  /**
   * A key of a re-sliced push that an earlier slice of the same task carried: what that slice sent
   * for it (`at`, `len` in `slice.out`), if the key held the same number of values there.
   */
  function findEarlier(
    slices: SentSlice[],
    key: bigint,
    len: number,
  ): { slice: SentSlice; at: number } | undefined {
    for (const slice of slices) {
      const i = indexOf(slice.keys, key);
      if (i >= 0 && slice.offs[i + 1]! - slice.offs[i]! === len) return { slice, at: slice.offs[i]! };
    }
    return undefined;
  }

  /** Moves what `from`'s residual table holds back for `key` into `to[off..off+len)` (adding). */
  function moveResidual(
    from: NodeId,
    app: number,
    key: bigint,
    to: Float64Array,
    off: number,
    len: number,
  ): void {
    const table = pushStates.get(from)?.get(app)?.residuals;
    if (!table) return;
    const e = table.lookup(BigUint64Array.of(key), false)[0]!;
    if (e < 0 || table.lengthOf(e) !== len) return;
    const res = table.slabs[0] as Float64Array;
    const o = table.offsetOf(e);
    for (let j = 0; j < len; j++) {
      to[off + j]! += res[o + j]!;
      res[o + j] = 0;
    }
  }

  const everyNth = (count: number): boolean => flushEvery !== undefined && count % flushEvery === 0;

  function encodePush(msg: Message, ctx: FilterContext): Message {
    const keys = ctx.keys;
    const vals = msg.data[1];
    const lens = msg.data[2];
    if (keys === undefined || !isVals(vals) || vals.length === 0 || msg.data.length > 3) return msg;
    if (lens !== undefined && !(lens instanceof Int32Array && lensMatch(lens, keys.length, vals.length))) {
      return msg;
    }
    const width = lens === undefined ? widthOf(keys.length, vals.length) : 0;
    if (width === undefined) return msg;
    const st = stateOf(pushStates, ctx.peer, msg.meta.app, () => ({
      residuals: undefined,
      pushes: 0,
    }));
    const { ts, done } = msg.meta;
    const slices = slicesOf(msg.meta.app, ts, done);
    // The same slice again (a resend after a key-cache miss): the values it carried the first time.
    const again = slices.find((x) => x.peer === ctx.peer && sameKeys(x.keys, keys));
    if (
      again !== undefined &&
      again.out.length === vals.length &&
      again.out.constructor === vals.constructor
    ) {
      return replaced(msg, 1, again.out);
    }
    // Only a resent slice (`meta.resend`: a re-slice after a ring change) can repeat keys.
    const earlier = msg.meta.resend === true ? slices : [];
    st.residuals ??= new KVTable('float64', 1, TABLE_CAPACITY);
    const table = st.residuals;
    let entries: Int32Array;
    try {
      entries = table.lookup(keys, true, width, lens);
    } catch (err) {
      if (isPsError(err, PsErrorCode.LENS_CONFLICT)) return msg; // a key changed length: as it is
      throw err;
    }
    st.pushes++;
    const whole = bypassing > 0 || everyNth(st.pushes);
    const res = table.slabs[0] as Float64Array;
    const out = vals instanceof Float32Array ? new Float32Array(vals.length) : new Float64Array(vals.length);
    const f32 = vals instanceof Float32Array;
    const offs = new Int32Array(keys.length + 1);
    let p = 0;
    for (let i = 0; i < keys.length; i++) {
      const e = entries[i]!;
      const off = table.offsetOf(e);
      const len = table.lengthOf(e);
      offs[i] = p;
      // A re-slice (the task's keys now go to another server): a key an earlier slice carried is
      // sent again as it was sent then, and what was held back for it moves along, so nothing
      // of the push is counted twice (the earlier slice's residual already holds its rest).
      const before = earlier.length > 0 ? findEarlier(earlier, keys[i]!, len) : undefined;
      if (before) {
        out.set(before.slice.out.subarray(before.at, before.at + len), p);
        if (before.slice.peer !== ctx.peer)
          moveResidual(before.slice.peer, msg.meta.app, keys[i]!, res, off, len);
        p += len;
        continue;
      }
      for (let j = 0; j < len; j++, p++) {
        const r = res[off + j]! + vals[p]!;
        if (whole || !(Math.abs(r) <= threshold)) {
          const s = f32 ? Math.fround(r) : r;
          out[p] = s;
          const rest = r - s; // exact (Sterbenz) whenever s is finite
          res[off + j] = Number.isFinite(rest) ? rest : 0;
        } else {
          res[off + j] = r; // out[p] stays 0
        }
      }
    }
    offs[keys.length] = p;
    recordSlice(msg.meta.app, ts, { peer: ctx.peer, keys, out, offs });
    return replaced(msg, 1, out);
  }

  function encodePull(msg: Message, ctx: FilterContext): Message {
    const keys = ctx.keys;
    const vals = msg.data[0];
    if (keys === undefined || msg.data.length !== 1 || !isVals(vals) || vals.length === 0) return msg;
    const width = widthOf(keys.length, vals.length);
    if (width === undefined) return msg;
    const st = heldOf(ctx.peer, msg.meta.app);
    st.held ??= new KVTable(vals instanceof Float64Array ? 'float64' : 'float32', 1, TABLE_CAPACITY);
    const table = st.held;
    const known = table.size;
    let entries: Int32Array;
    try {
      entries = table.lookup(keys, true, width);
    } catch (err) {
      if (isPsError(err, PsErrorCode.LENS_CONFLICT)) return msg;
      throw err;
    }
    st.responses++;
    const whole = bypassing > 0 || everyNth(st.responses);
    const held = table.slabs[0]!;
    const n = vals.length;
    const out = vals instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
    const bitmap = new Uint8Array((n + 7) >> 3);
    let fresh = 0;
    let p = 0;
    for (let i = 0; i < keys.length; i++) {
      const e = entries[i]!;
      const off = table.offsetOf(e);
      const isNew = e >= known;
      for (let j = 0; j < width; j++, p++) {
        const v = vals[p]!;
        if (whole || isNew || !(Math.abs(v - held[off + j]!) <= threshold)) {
          out[p] = v;
          held[off + j] = v;
          bitmap[p >> 3]! |= 1 << (p & 7);
          fresh++;
        }
      }
    }
    const meta: SignificantMeta = { n, fresh, epoch: st.epoch, seq: st.seq };
    st.seq = (st.seq + 1) >>> 0;
    return withFilterMeta(msg, NAME, meta, fresh === n ? [vals] : [out, bitmap]);
  }

  function decodePull(msg: Message, ctx: FilterContext, raw: unknown): Message {
    const st = stateOf(cacheStates, ctx.peer, msg.meta.app, () => ({
      cache: undefined,
      epoch: 0,
      confirmed: true,
      nextSeq: undefined,
    }));
    try {
      const m = parseResponseMeta(raw);
      if (st.nextSeq !== undefined && m.seq !== st.nextSeq) lostTrack(st); // a response went missing
      st.nextSeq = (m.seq + 1) >>> 0;
      const vals = msg.data[0];
      const bitmap = msg.data[1];
      const partial = m.fresh < m.n;
      if (
        msg.data.length !== (partial ? 2 : 1) ||
        !isVals(vals) ||
        vals.length !== m.n ||
        (partial && !(bitmap instanceof Uint8Array && bitmap.length === (m.n + 7) >> 3))
      ) {
        throw new PsError(
          PsErrorCode.FRAME_MALFORMED,
          `significant: a pull response of ${m.n} values (${m.fresh} sent) should carry [vals${partial ? ', bitmap' : ''}], got ${describeSegments(msg.data)}`,
        );
      }
      const bits = partial ? (bitmap as Uint8Array) : undefined;
      if (bits !== undefined && popcount(bits, m.n) !== m.fresh) {
        throw new PsError(
          PsErrorCode.FRAME_MALFORMED,
          `significant: the bitmap marks ${popcount(bits, m.n)} values, meta.filters.significant says ${m.fresh}`,
        );
      }
      const keys = ctx.keys;
      if (keys === undefined) {
        throw new PsError(
          PsErrorCode.MESSAGE_INVALID,
          `significant: cannot decode pull response ${msg.meta.ts} from ${ctx.peer}: the keys of its request are unknown`,
        );
      }
      const width = widthOf(keys.length, m.n);
      if (width === undefined) {
        throw new PsError(
          PsErrorCode.MESSAGE_INVALID,
          `significant: pull response ${msg.meta.ts} from ${ctx.peer} has ${m.n} values for ${keys.length} keys`,
        );
      }
      st.cache ??= new KVTable(vals instanceof Float64Array ? 'float64' : 'float32', 1, TABLE_CAPACITY);
      const table = st.cache;
      const known = table.size;
      const entries = table.lookup(keys, true, width);
      const cache = table.slabs[0]!;
      const out =
        bits === undefined
          ? vals
          : vals instanceof Float32Array
            ? new Float32Array(m.n)
            : new Float64Array(m.n);
      let p = 0;
      for (let i = 0; i < keys.length; i++) {
        const e = entries[i]!;
        const off = table.offsetOf(e);
        for (let j = 0; j < width; j++, p++) {
          if (bits === undefined || (bits[p >> 3]! >> (p & 7)) & 1) {
            cache[off + j] = vals[p]!;
            if (out !== vals) out[p] = vals[p]!;
          } else if (e >= known) {
            throw new PsError(
              PsErrorCode.MESSAGE_INVALID,
              `significant: pull response ${msg.meta.ts} from ${ctx.peer} leaves out key ${keys[i]}, which this worker does not hold (state lost; the next pull resends it)`,
            );
          } else {
            out[p] = cache[off + j]!;
          }
        }
      }
      if (m.epoch === st.epoch) st.confirmed = true;
      return withoutFilterMeta(msg, NAME, [out]);
    } catch (err) {
      // The values this response sent are not in the cache: start over with the server.
      lostTrack(st);
      if (isPsError(err, PsErrorCode.MESSAGE_INVALID) || isPsError(err, PsErrorCode.FRAME_MALFORMED))
        throw err;
      // A key whose length differs from the cached one: the two ends disagree.
      throw new PsError(
        PsErrorCode.MESSAGE_INVALID,
        `significant: cannot decode pull response ${msg.meta.ts} from ${ctx.peer}: ${err instanceof Error ? err.message : String(err)}`,
        undefined,
        { cause: err },
      );
    }
  }

  function heldOf(peer: NodeId, app: number): HeldState {
    return stateOf(heldStates, peer, app, () => ({ held: undefined, epoch: 0, seq: 0, responses: 0 }));
  }

  return {
    name: NAME,
    signature: `${NAME}:${threshold}`,
    lossless: false,
    errorBound: `push: none over time (residuals are kept and sent later, or flushed); pull: each value within threshold of the server's (threshold ${threshold}, plus the error of lossy filters after this one)`,
    stats: { messages: 0, bytesIn: 0, bytesOut: 0 },
    encode(msg: Message, ctx: FilterContext): Message {
      const m = msg.meta;
      if (m.request) {
        const out = m.push ? encodePush(msg, ctx) : msg;
        if (!m.pull) return out;
        const st = cacheStates.get(ctx.peer)?.get(m.app);
        if (st === undefined || st.confirmed) return out;
        const meta: SignificantMeta = { epoch: st.epoch };
        return withFilterMeta(out, NAME, meta, out.data);
      }
      if (!m.pull) return msg;
      if (m.error !== undefined) {
        // The server could not answer (maybe a response it encoded never left): start over.
        const st = heldStates.get(ctx.peer)?.get(m.app);
        if (st !== undefined) st.held = undefined;
        return msg;
      }
      return encodePull(msg, ctx);
    },
    decode(msg: Message, ctx: FilterContext): Message {
      const raw = filterMetaOf(msg, NAME);
      if (raw === undefined) return msg;
      const m = msg.meta;
      if (!m.request) {
        if (!m.pull) {
          throw new PsError(
            PsErrorCode.MESSAGE_INVALID,
            'significant: meta.filters.significant on a response that is not to a pull',
          );
        }
        return decodePull(msg, ctx, raw);
      }
      const epoch = parseRequestMeta(raw);
      const st = heldOf(ctx.peer, m.app);
      if (st.epoch !== epoch) {
        st.epoch = epoch;
        st.held = undefined;
        st.responses = 0;
      }
      return withoutFilterMeta(msg, NAME, msg.data);
    },
    flush(peer?: NodeId): PendingResiduals[] {
      const out: PendingResiduals[] = [];
      const peers = peer === undefined ? [...pushStates.keys()].sort() : [peer];
      for (const p of peers) {
        const apps = pushStates.get(p);
        if (apps === undefined) continue;
        for (const [app, st] of [...apps].sort((a, b) => a[0] - b[0])) {
          const table = st.residuals;
          st.residuals = undefined;
          st.pushes = 0;
          const kv = table === undefined ? undefined : nonzero(table);
          if (kv !== undefined) out.push({ peer: p, app, ...kv });
        }
      }
      return out;
    },
    bypass<T>(fn: () => T): T {
      bypassing++;
      try {
        return fn();
      } finally {
        bypassing--;
      }
    },
  };
}

/** The state of `peer` and `app` in `map`, created by `make` when missing. */
function stateOf<S>(map: Map<NodeId, Map<number, S>>, peer: NodeId, app: number, make: () => S): S {
  let apps = map.get(peer);
  if (apps === undefined) {
    apps = new Map();
    map.set(peer, apps);
  }
  let st = apps.get(app);
  if (st === undefined) {
    st = make();
    apps.set(app, st);
  }
  return st;
}

/** Drops a worker's cache for a server and picks a new epoch, to be sent with the next pull. */
function lostTrack(st: CacheState): void {
  st.cache = undefined;
  let epoch = 0;
  while (epoch === 0 || epoch === st.epoch) epoch = Math.floor(Math.random() * 4294967296);
  st.epoch = epoch;
  st.confirmed = false;
}

function sameKeys(a: BigUint64Array, b: BigUint64Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Index of `key` in the strictly increasing `keys`, or -1. */
function indexOf(keys: BigUint64Array, key: bigint): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const k = keys[mid]!;
    if (k === key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function isVals(s: Segment | undefined): s is Vals {
  return s instanceof Float32Array || s instanceof Float64Array;
}

/** Values per key when `vals` values split evenly over `keys` keys (at least one each). */
function widthOf(keys: number, vals: number): number | undefined {
  if (keys === 0 || vals === 0 || vals % keys !== 0) return undefined;
  return vals / keys;
}

function lensMatch(lens: Int32Array, keys: number, vals: number): boolean {
  if (lens.length !== keys) return false;
  let sum = 0;
  for (const l of lens) {
    if (l < 0) return false;
    sum += l;
  }
  return sum === vals;
}

/** The message with segment `i` replaced (meta and other segments shared). */
function replaced(msg: Message, i: number, seg: Segment): Message {
  const data = msg.data.slice();
  data[i] = seg;
  return { meta: msg.meta, data };
}

/** Set bits among the first `n` of a bitmap. */
function popcount(bits: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) c += (bits[i >> 3]! >> (i & 7)) & 1;
  return c;
}

function describeSegments(data: readonly Segment[]): string {
  return `[${data.map((s) => `${s.constructor.name}(${s.length})`).join(', ')}]`;
}

/** The keys of `table` with a nonzero residual, sorted, with all their values. */
function nonzero(table: KVTable): KVPairs<Float64Array> | undefined {
  const res = table.slabs[0] as Float64Array;
  const picked: number[] = [];
  for (let e = 0; e < table.size; e++) {
    const off = table.offsetOf(e);
    const len = table.lengthOf(e);
    for (let j = 0; j < len; j++) {
      if (res[off + j] !== 0) {
        picked.push(e);
        break;
      }
    }
  }
  if (picked.length === 0) return undefined;
  const all = table.keys(); // entry e holds all[e]
  const w = keyWords(all);
  picked.sort((a, b) => w[2 * a + 1]! - w[2 * b + 1]! || w[2 * a]! - w[2 * b]!);
  const keys = new BigUint64Array(picked.length);
  const lens = new Int32Array(picked.length);
  let total = 0;
  picked.forEach((e, i) => {
    keys[i] = all[e]!;
    lens[i] = table.lengthOf(e);
    total += lens[i]!;
  });
  const vals = new Float64Array(total);
  let p = 0;
  for (const e of picked) {
    const off = table.offsetOf(e);
    const len = table.lengthOf(e);
    vals.set(res.subarray(off, off + len), p);
    p += len;
  }
  const uniform = lens.every((l) => l === lens[0]);
  return uniform ? { keys, vals } : { keys, vals, lens };
}

function parseResponseMeta(raw: unknown): { n: number; fresh: number; epoch: number; seq: number } {
  const bad = (why: string): PsError =>
    new PsError(PsErrorCode.MESSAGE_INVALID, `significant: meta.filters.significant is invalid: ${why}`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('not a map');
  const { n, fresh, epoch, seq } = raw as Record<string, unknown>;
  const count = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  const u32 = (x: unknown): x is number => count(x) && x < 4294967296;
  if (!count(n)) throw bad(`n ${String(n)} is not a count`);
  if (!count(fresh) || fresh > n) throw bad(`fresh ${String(fresh)} is not a count up to n ${n}`);
  if (!u32(epoch)) throw bad(`epoch ${String(epoch)} is not a uint32`);
  if (!u32(seq)) throw bad(`seq ${String(seq)} is not a uint32`);
  return { n, fresh, epoch, seq };
}

function parseRequestMeta(raw: unknown): number {
  const epoch =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw)
      ? (raw as Record<string, unknown>).epoch
      : undefined;
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch >= 4294967296) {
    throw new PsError(
      PsErrorCode.MESSAGE_INVALID,
      `significant: meta.filters.significant of a request should be { epoch: uint32 }, got ${JSON.stringify(raw)}`,
    );
  }
  return epoch;
}
