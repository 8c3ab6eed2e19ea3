import { PsError, PsErrorCode } from '../errors.js';
import { sameKeys } from '../store/key-list-cache.js';
import type { Filter, FilterContext, FilterStats } from './filter.js';
import { localHintOf } from './local-frame.js';
import type { Message, Meta, Segment } from './message.js';
import { RepeatHint } from './repeat-hint.js';
import { sharedKeyLists } from './shared-key-lists.js';

/** Options of {@link keyListReuse}. */
export interface KeyListReuseOptions {
  /** Lists of fewer keys always travel (default 64: below that the reference saves little). */
  minKeys?: number;
  /**
   * Senders (per app) whose last list a receiver holds; past it the least recently used is
   * dropped, and that sender's next reference costs one resend with the keys. Default 1,024.
   */
  maxSenders?: number;
}

/** What {@link keyListReuse} records under `meta.filters.keyReuse` of a request. */
export interface KeyListReuseMeta {
  /** The sender's id of the list: unique per list the sender stored (random start, then +1). */
  id: number;
  /** Number of keys of the list. */
  n: number;
  /** True when the message carries the keys and the receiver is to keep them under `id`. */
  store?: true;
}

/** {@link FilterStats} plus the filter's own counts (it is both sender and receiver). */
export interface KeyListReuseStats extends FilterStats {
  /** Requests sent with only a reference to the list the receiver holds. */
  sentRef: number;
  /** Requests sent with their keys and `store`. */
  sentStore: number;
  /** Times a `PS_ERR_KEY_CACHE_MISS` answer made this sender forget what a peer holds. */
  resets: number;
  /** References received and resolved. */
  hits: number;
  /** References received that this receiver could not resolve (decode threw). */
  misses: number;
}

/** The filter {@link keyListReuse} returns. */
export interface KeyListReuseFilter extends Filter {
  readonly stats: KeyListReuseStats;
}

/** What a sender believes a peer holds for one app: the list it stored there last. */
interface HeldList {
  id: number;
  /** A copy of the keys, compared with a request's list when no tag proves them equal. */
  keys: BigUint64Array;
  /**
   * The validation tag the worker in this thread gave the list (`LocalHint.keys`: its
   * `ValidatedKeys` number and incarnation), when it came with one. The worker's validation hands
   * out one number per content (a new list gets a new number), and a request's arrays must not
   * change until it is answered, so a later request with the same tag holds the same keys.
   */
  tag: { tag: number; inc: string } | undefined;
}

/** True when `tag` is the validation tag `h` was stored or last matched under. */
function sameTag(h: HeldList, tag: { tag: number; inc: string } | undefined): boolean {
  return tag !== undefined && h.tag !== undefined && h.tag.tag === tag.tag && h.tag.inc === tag.inc;
}

/** The name under which the filter records its meta; also how a chain is recognised as having one. */
export const KEY_LIST_REUSE = 'keyReuse';

/** Largest id before it wraps (ids stay exact doubles and msgpack integers). */
const MAX_ID = 2 ** 48;
/**
 * Lists a receiver keeps per sender and app (the latest stored first): a resend that names an
 * older list (its answer lost in a dropped connection, then overtaken by a newer store) still
 * resolves.
 */
const RECENT = 8;
/** Requests a sender sends with their keys after a miss, before it names lists again. */
const AFTER_MISS = 32;

/**
 * Key-list reuse, the paper's key caching (OSDI 2014, section 4.2) in its cheapest form, which a
 * node runs by default over transports that move bytes (`keyListReuse` in the node options): a
 * worker that sends a server the same key list as its previous request of that app sends a
 * reference (an id and the count) instead of the keys, which halves a pushPull's bytes and
 * leaves a pull's request a few dozen bytes. No hashing: a list is recognised by one memcmp
 * against the copy of the last list sent to that peer, or with no compare at all when the worker
 * in this thread tagged the request's keys as the same list it validated last (`LocalHint.keys`;
 * with a list sealed by `sealKeys`, neither end of the worker compares the list).
 *
 * **Sender.** A request whose segment 0 holds at least `minKeys` keys: when they equal the last
 * list stored at the peer for this app, segment 0 travels empty with `{ id, n }`. Otherwise, when
 * the list samples the same as the previous request's (`RepeatHint`: no copy for a job
 * whose lists never repeat), the keys travel with `{ id, n, store: true }` under a fresh id and
 * the sender keeps a copy; else the request passes untouched. A response carrying
 * `PS_ERR_KEY_CACHE_MISS` makes the sender forget what it believed that peer holds and send its
 * next 32 requests to it with their keys, so the worker's resend (which it makes once) carries
 * the keys again even when other requests race it over a reconnect.
 *
 * **Receiver.** A `store` keeps a copy of the keys as that sender's latest list of the app (the
 * last 8 lists per sender and app, so that a resend naming an older one still resolves; at most
 * `maxSenders` senders); a reference is answered with that list, shared
 * between requests (handlers must not change a request's keys in place: the built-in ones never
 * do; the server's validation memo trusts the shared list by identity once it compared it), or refused with `PS_ERR_KEY_CACHE_MISS` when the id or count differs (a restarted
 * receiver, an evicted sender, requests reordered by a reconnect). Ids start at a random point,
 * so a restarted sender does not name its predecessor's lists (a clash needs a random 48-bit
 * start within the number of lists the old process stored).
 *
 * **Memory.** The sender keeps, per peer and app, one list (8 bytes a key); the receiver up to 8
 * per sender and app.
 *
 * @throws PsError `PS_ERR_CONFIG` for a `minKeys` or `maxSenders` that is not an integer >= 1.
 * @throws PsError (decode) `PS_ERR_KEY_CACHE_MISS` for a reference this receiver cannot resolve;
 *   `PS_ERR_MESSAGE_INVALID` for a malformed `meta.filters.keyReuse` or one on a response;
 *   `PS_ERR_FRAME_MALFORMED` when segment 0 is not a BigUint64Array of the announced length.
 */
export function keyListReuse(opts: KeyListReuseOptions = {}): KeyListReuseFilter {
  const { minKeys = 64, maxSenders = 1024 } = opts;
  for (const [name, v] of [
    ['minKeys', minKeys],
    ['maxSenders', maxSenders],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `keyListReuse: ${name} must be an integer >= 1, got ${String(v)}`,
      );
    }
  }
  let nextId = Math.floor(Math.random() * MAX_ID);
  /** Sender: per `peer/app`, the last list stored there, and the hint that sees lists repeat. */
  const sent = new Map<string, { hint: RepeatHint; held: HeldList | undefined; plain: number }>();
  /** Receiver: per `sender/app`, its latest stored lists (newest first), least recently used slot first. */
  const held = new Map<string, { id: number; keys: BigUint64Array }[]>();
  /** The slot key of the last (peer, app) each side looked up: one string, not one a message. */
  const sentSlot = slotMemo();
  const heldSlot = slotMemo();
  /** The receiver's most recently used slot: a repeat need not move it to the end again. */
  let mru: string | undefined;
  const stats: KeyListReuseStats = {
    messages: 0,
    bytesIn: 0,
    bytesOut: 0,
    sentRef: 0,
    sentStore: 0,
    resets: 0,
    hits: 0,
    misses: 0,
  };
  return {
    name: KEY_LIST_REUSE,
    signature: 'key-list-reuse',
    lossless: true,
    // decode reads a response's meta only, and copies a stored key list (`seg.slice()`).
    retainsNoViews: true,
    stats,
    encode(msg: Message, ctx: FilterContext): Message {
      const keys = msg.data[0];
      if (!msg.meta.request || !(keys instanceof BigUint64Array) || keys.length < minKeys) return msg;
      const slot = sentSlot(ctx.peer, msg.meta.app);
      let s = sent.get(slot);
      if (s === undefined) {
        s = { hint: new RepeatHint(), held: undefined, plain: 0 };
        sent.set(slot, s);
      }
      const n = keys.length;
      if (s.plain > 0) {
        // Just after a miss: keys travel as they are, so that resends racing a reconnect never
        // name a list again before the receiver holds one.
        s.plain--;
        return msg;
      }
      // The worker's validation tag (see HeldList.tag) proves the list equal without the compare.
      const tag = localHintOf(msg.data)?.keys;
      const h = s.held;
      if (h !== undefined && (sameTag(h, tag) || sameKeys(h.keys, keys))) {
        stats.sentRef++;
        if (tag !== undefined) h.tag = tag;
        const data = msg.data.slice();
        data[0] = NO_KEYS;
        return withMeta(msg, { id: h.id, n }, data);
      }
      if (!s.hint.see(keys)) return msg;
      nextId = (nextId + 1) % MAX_ID;
      s.held = { id: nextId, keys: keys.slice(), tag };
      stats.sentStore++;
      return withMeta(msg, { id: nextId, n, store: true }, msg.data.slice());
    },
    decode(msg: Message, ctx: FilterContext): Message {
      const raw = msg.meta.filters?.[KEY_LIST_REUSE];
      if (!msg.meta.request) {
        if (raw !== undefined) {
          throw new PsError(
            PsErrorCode.MESSAGE_INVALID,
            'keyListReuse: a response carries meta.filters.keyReuse',
          );
        }
        if (msg.meta.error?.code === PsErrorCode.KEY_CACHE_MISS) {
          const s = sent.get(sentSlot(ctx.peer, msg.meta.app));
          if (s !== undefined) {
            if (s.held !== undefined) stats.resets++;
            s.held = undefined;
            s.plain = AFTER_MISS;
          }
        }
        return msg;
      }
      if (raw === undefined) return msg;
      const m = parseMeta(raw);
      const seg = msg.data[0];
      if (!(seg instanceof BigUint64Array) || seg.length !== (m.store ? m.n : 0)) {
        throw new PsError(
          PsErrorCode.FRAME_MALFORMED,
          `keyListReuse: segment 0 should be a BigUint64Array of ${m.store ? m.n : 0} keys, got ${seg === undefined ? 'none' : `${seg.constructor.name} of ${seg.length}`}`,
        );
      }
      const slot = heldSlot(ctx.peer, msg.meta.app);
      if (m.store) {
        const keys = seg.slice();
        sharedKeyLists.add(keys);
        const lists = (held.get(slot) ?? []).filter((l) => l.id !== m.id);
        lists.unshift({ id: m.id, keys });
        if (lists.length > RECENT) lists.length = RECENT;
        held.delete(slot);
        held.set(slot, lists);
        mru = slot;
        if (held.size > maxSenders) held.delete(held.keys().next().value!);
        return withoutMeta(msg, msg.data.slice());
      }
      const lists = held.get(slot);
      const h = lists?.find((l) => l.id === m.id);
      if (lists === undefined || h === undefined || h.keys.length !== m.n) {
        stats.misses++;
        throw new PsError(
          PsErrorCode.KEY_CACHE_MISS,
          `keyListReuse: ${ctx.peer} named key list ${m.id} of ${m.n} keys, which this node does not hold (restarted, evicted or reordered); resend the request with its keys`,
          { peer: ctx.peer, id: m.id, n: m.n },
        );
      }
      if (slot !== mru) {
        held.delete(slot);
        held.set(slot, lists);
        mru = slot;
      }
      stats.hits++;
      const data = msg.data.slice();
      data[0] = h.keys;
      return withoutMeta(msg, data);
    },
  };
}

/** True when a chain already caches key lists (this filter, or `@ps/filters`' keyCaching). */
export function cachesKeyLists(filters: readonly Filter[]): boolean {
  return filters.some((f) => f.name === KEY_LIST_REUSE || f.name === 'keyCaching');
}

/** Segment 0 of a request that names its list: no keys (never written: it has no elements). */
const NO_KEYS = new BigUint64Array(0);

/**
 * The `peer/app` slot key, kept for the last pair asked: a node talks to one peer and app in
 * long runs, and a fresh string each message cost a hash of it in every Map lookup.
 */
function slotMemo(): (peer: string, app: number) => string {
  let lastPeer: string | undefined;
  let lastApp = -1;
  let last = '';
  return (peer, app) => {
    if (peer !== lastPeer || app !== lastApp) {
      lastPeer = peer;
      lastApp = app;
      last = `${peer}/${app}`;
    }
    return last;
  };
}

function withMeta(msg: Message, value: KeyListReuseMeta, data: Segment[]): Message {
  const f = msg.meta.filters;
  // Without other filters' state, no spread of an empty object.
  const filters = f === undefined ? { [KEY_LIST_REUSE]: value } : { ...f, [KEY_LIST_REUSE]: value };
  // `filters` first, then assigned: a spread that adds a key the source lacks leaves V8's clone
  // fast path (about 1.3 µs against 0.15 for a meta of ten fields on Node 20).
  const meta: Meta = { filters: undefined, ...msg.meta };
  meta.filters = filters;
  return { meta, data };
}

function withoutMeta(msg: Message, data: Segment[]): Message {
  const f = msg.meta.filters;
  if (f !== undefined && onlyReuse(f)) {
    // The common case: no other filter's state. A spread (copied by V8's clone fast path) with
    // `filters` cleared, not a rest destructuring (a slow generic copy); msgpack and the binary
    // layout both skip an undefined field.
    return { meta: { ...msg.meta, filters: undefined }, data };
  }
  const { [KEY_LIST_REUSE]: _dropped, ...rest } = f ?? {};
  const { filters: _all, ...meta } = msg.meta;
  return { meta: Object.keys(rest).length > 0 ? { ...meta, filters: rest } : meta, data };
}

/** True when `filters` holds this filter's entry and nothing else. */
function onlyReuse(filters: Record<string, unknown>): boolean {
  return filters[KEY_LIST_REUSE] !== undefined && Object.keys(filters).length === 1;
}

function parseMeta(raw: unknown): KeyListReuseMeta {
  const bad = (why: string) =>
    new PsError(PsErrorCode.MESSAGE_INVALID, `keyListReuse: meta.filters.keyReuse is invalid: ${why}`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('not a map');
  const { id, n, store } = raw as Record<string, unknown>;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_ID)
    throw bad(`id ${String(id)}`);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw bad(`n ${String(n)} is not a count >= 1`);
  if (store !== undefined && store !== true) throw bad(`store ${String(store)} is neither absent nor true`);
  return store === true ? { id, n, store } : { id, n };
}
