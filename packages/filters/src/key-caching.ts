import {
  type Filter,
  type FilterContext,
  type FilterStats,
  type Message,
  type NodeId,
  PsError,
  PsErrorCode,
} from '@ps/core';
import { filterMetaOf, withFilterMeta, withoutFilterMeta } from './filter-meta.js';
import { h64Raw } from './xxh64.js';

/** Options of {@link keyCaching}. Both ends of a connection should use the same values (see below). */
export interface KeyCachingOptions {
  /** Key lists cached per peer, least recently used evicted first (default 4096). */
  capacity?: number;
  /**
   * Bytes of key lists (8 per key) cached per peer (default 64 MiB). A list larger than this
   * travels as it is, never cached.
   */
  maxBytes?: number;
  /**
   * Lists of fewer keys travel as they are (default 16: below that the signature in the meta,
   * about 40 bytes, saves little or nothing). Local to the sender.
   */
  minKeys?: number;
}

/**
 * What {@link keyCaching} records under `meta.filters.keyCaching` of a request (msgpack-encodable:
 * a string, a number, a boolean). Absent when the filter left the message as it was.
 */
export interface KeyCachingMeta {
  /** XXH64 (seed 0) of the key list's bytes (little-endian uint64s), 16 lowercase hex digits. */
  sig: string;
  /** Number of keys of the list. */
  n: number;
  /**
   * True when the message carries the keys and the receiver is to cache them under `sig`. Absent
   * when the keys stayed home: segment 0 is then an empty BigUint64Array.
   */
  store?: true;
}

/** `FilterStats` plus the cache's own counts (the filter is both sender and receiver). */
export interface KeyCachingStats extends FilterStats {
  /** Requests sent with only the signature (the receiver was believed to hold the keys). */
  sentRef: number;
  /** Requests sent with their keys and `store`. */
  sentStore: number;
  /** Times a `PS_ERR_KEY_CACHE_MISS` answer made this sender forget what a peer holds. */
  resets: number;
  /** Requests received with `store` whose keys were cached. */
  stored: number;
  /** Requests received with only a signature whose keys were found (and restored). */
  hits: number;
  /** Requests received with only a signature this receiver did not hold (decode threw). */
  misses: number;
  /** Lists evicted from a receiver's cache to stay within `capacity` and `maxBytes`. */
  evictions: number;
}

/** The key-caching filter: a `Filter` with {@link KeyCachingStats} and a way to drop a peer. */
export interface KeyCachingFilter extends Filter {
  readonly stats: KeyCachingStats;
  /** Forgets everything about `peer`, as sender and as receiver (for a peer that left the cluster). */
  forgetPeer(peer: NodeId): void;
}

const NAME = 'keyCaching';
const SIG_RE = /^[0-9a-f]{16}$/;

/**
 * The signature of a key list: XXH64 (seed 0) of its bytes, as 16 lowercase hex digits. The bytes
 * are the BigUint64Array's memory, little-endian on every host `@ps` runs on (as for every segment).
 */
export function keyListSignature(keys: BigUint64Array): string {
  return h64Raw(new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength))
    .toString(16)
    .padStart(16, '0');
}

/**
 * The key-caching filter (OSDI 2014, section 4.2; DESIGN.md, "Filters"): a worker that sends the
 * same key list to a server again and again (every iteration pulls and pushes the keys of the same
 * minibatch or shard) sends the list once, then only its signature. Lossless.
 *
 * **Sender** (encode of a request whose segment 0 is a BigUint64Array of at least `minKeys` and at
 * most `maxBytes / 8` keys): the list is named by its {@link keyListSignature} and its length
 * (both: the cache key is `sig/n`). When this sender believes the recipient (`ctx.peer`) holds the
 * list, segment 0 becomes an empty BigUint64Array and the meta says `{ sig, n }`; otherwise the
 * keys travel with `{ sig, n, store: true }` and the sender from then on believes the peer holds
 * them. What it believes is a mirror of the receiver's cache: an LRU with the same `capacity` and
 * `maxBytes`, touched by the same messages in the same order (one connection keeps their order),
 * so with equal options on both ends the sender only names lists the receiver still holds.
 *
 * **Receiver** (decode of a request with `meta.filters.keyCaching`): with `store`, it recomputes
 * the signature of the keys and checks the count, so that a corrupted or hostile message cannot
 * file a list under another list's name; then it caches a copy of the keys (not a view of the
 * frame, whose buffer would stay alive) and passes the message on. Without keys, it restores a copy
 * of the cached list into segment 0, or throws `PS_ERR_KEY_CACHE_MISS` (a restarted server, an
 * evicted list, a lost message): the node answers the request with that error.
 *
 * **Repair** (decode of a response): a response whose `meta.error.code` is `PS_ERR_KEY_CACHE_MISS`
 * makes the sender forget everything it believed that peer holds, so the worker's resend of the
 * request (and every later request) carries its keys again.
 *
 * **Memory** (receiver): per peer at most `capacity` lists and `maxBytes` bytes of keys, plus about
 * 100 bytes per list; a server holds at most `maxBytes` times the number of workers (64 MiB each
 * by default). The bound is per peer, not global, so that the sender can mirror it exactly: a
 * global bound would evict one worker's lists because of another's traffic, which no sender sees.
 * Call `forgetPeer` for a peer that left. The sender keeps only names and sizes. The hash's wasm
 * memory grows to the largest list hashed and stays that size.
 *
 * **Options must match**: `capacity` and `maxBytes` decide the mirror. They are not part of the
 * signature (which is `key-caching`), so nothing checks them: a receiver with smaller bounds than
 * its sender evicts lists the sender still names, and each such request costs a miss and a resend
 * (correct, but slower). A list larger than the receiver's `maxBytes` is never cached by it.
 *
 * **Order in a chain**: put keyCaching before filters that transform segment 0, such as lz4
 * (`[keyCaching(), quantize(...), lz4()]`): it must see the keys as a BigUint64Array. After lz4 it
 * sees compressed bytes (lists of at least lz4's `minBytes`) and lets the message pass untouched,
 * saving nothing. A filter that would drop or change keys must come before it (the list keyCaching
 * names is the one that travels); significant-update keeps the key list (it zeroes values and finds
 * its keys in `ctx.keys`), so it may follow, as in DESIGN.md's chain. quantize touches values only,
 * so its place does not matter.
 *
 * **Hash collisions**: XXH64 is not cryptographic, so a hostile worker could craft two lists with
 * one signature; the caches are per peer, so it could only confuse its own requests. Accidental
 * collisions (same count and hash) have probability about m^2 / 2^65 for m lists cached per peer.
 *
 * Throughput: hashing at about 4 GB/s on each send of a list and each `store` received; a hit
 * copies the cached list (8 bytes per key).
 *
 * @throws PsError `PS_ERR_CONFIG` when `capacity` is not an integer >= 1, `maxBytes` not a number
 *   >= 8, or `minKeys` not an integer >= 1.
 * @throws PsError (decode) `PS_ERR_KEY_CACHE_MISS` for a signature this receiver does not hold;
 *   `PS_ERR_MESSAGE_INVALID` when `meta.filters.keyCaching` is not a {@link KeyCachingMeta} (or is
 *   on a response), or a `store` whose keys do not match its `sig` and `n`; `PS_ERR_FRAME_MALFORMED`
 *   when segment 0 is not a BigUint64Array, or not empty in a request named by signature only.
 *
 * @example
 * ```ts
 * const worker = [keyCaching(), lz4()];
 * const server = [keyCaching(), lz4()];
 * const first = encodeChain(worker, req, { peer: 'server-1' }); // keys + { sig, n, store: true }
 * decodeChain(server, first, { peer: 'worker-1' }); // cached
 * const again = encodeChain(worker, req, { peer: 'server-1' }); // empty keys + { sig, n }
 * decodeChain(server, again, { peer: 'worker-1' }); // keys restored
 * ```
 */
export function keyCaching(opts: KeyCachingOptions = {}): KeyCachingFilter {
  const { capacity = 4096, maxBytes = 64 * 1024 * 1024, minKeys = 16 } = opts;
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `keyCaching: capacity must be an integer >= 1, got ${String(capacity)}`,
    );
  }
  if (typeof maxBytes !== 'number' || !(maxBytes >= 8)) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `keyCaching: maxBytes must be a number >= 8, got ${String(maxBytes)}`,
    );
  }
  if (typeof minKeys !== 'number' || !Number.isInteger(minKeys) || minKeys < 1) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `keyCaching: minKeys must be an integer >= 1, got ${String(minKeys)}`,
    );
  }
  /** Sender: per recipient, the lists it is believed to hold (value: unused). */
  const believed = new Map<NodeId, ListLru<true>>();
  /** Receiver: per sender, the lists it sent with `store`. */
  const held = new Map<NodeId, ListLru<BigUint64Array>>();
  const lruOf = <V>(m: Map<NodeId, ListLru<V>>, peer: NodeId): ListLru<V> => {
    let lru = m.get(peer);
    if (lru === undefined) {
      lru = new ListLru<V>(capacity, maxBytes);
      m.set(peer, lru);
    }
    return lru;
  };
  const stats: KeyCachingStats = {
    messages: 0,
    bytesIn: 0,
    bytesOut: 0,
    sentRef: 0,
    sentStore: 0,
    resets: 0,
    stored: 0,
    hits: 0,
    misses: 0,
    evictions: 0,
  };

  return {
    name: NAME,
    signature: 'key-caching',
    lossless: true,
    stats,
    forgetPeer(peer: NodeId): void {
      believed.delete(peer);
      held.delete(peer);
    },
    encode(msg: Message, ctx: FilterContext): Message {
      if (!msg.meta.request || filterMetaOf(msg, NAME) !== undefined) return msg;
      const keys = msg.data[0];
      if (!(keys instanceof BigUint64Array) || keys.length < minKeys || keys.byteLength > maxBytes)
        return msg;
      const sig = keyListSignature(keys);
      const n = keys.length;
      const lru = lruOf(believed, ctx.peer);
      const id = cacheKey(sig, n);
      const data = msg.data.slice();
      if (lru.touch(id) !== undefined) {
        stats.sentRef++;
        data[0] = new BigUint64Array(0);
        return withFilterMeta(msg, NAME, { sig, n } satisfies KeyCachingMeta, data);
      }
      lru.set(id, true, keys.byteLength);
      stats.sentStore++;
      return withFilterMeta(msg, NAME, { sig, n, store: true } satisfies KeyCachingMeta, data);
    },
    decode(msg: Message, ctx: FilterContext): Message {
      const raw = filterMetaOf(msg, NAME);
      if (!msg.meta.request) {
        if (raw !== undefined) {
          throw new PsError(
            PsErrorCode.MESSAGE_INVALID,
            'keyCaching: a response carries meta.filters.keyCaching',
          );
        }
        if (msg.meta.error?.code === PsErrorCode.KEY_CACHE_MISS && believed.delete(ctx.peer)) stats.resets++;
        return msg;
      }
      if (raw === undefined) return msg;
      const m = parseMeta(raw);
      const seg = msg.data[0];
      if (!(seg instanceof BigUint64Array)) {
        throw new PsError(
          PsErrorCode.FRAME_MALFORMED,
          `keyCaching: segment 0 should be a BigUint64Array of keys, got ${seg === undefined ? 'none' : `a ${seg.constructor.name}`}`,
        );
      }
      const id = cacheKey(m.sig, m.n);
      const data = msg.data.slice();
      if (m.store === true) {
        if (seg.length !== m.n || keyListSignature(seg) !== m.sig) {
          throw new PsError(
            PsErrorCode.MESSAGE_INVALID,
            `keyCaching: the ${seg.length} keys sent to be cached do not match their signature ${m.sig} of ${m.n} keys`,
            { peer: ctx.peer, sig: m.sig, n: m.n },
          );
        }
        if (seg.byteLength <= maxBytes) {
          stats.evictions += lruOf(held, ctx.peer).set(id, seg.slice(), seg.byteLength);
          stats.stored++;
        }
        return withoutFilterMeta(msg, NAME, data);
      }
      if (seg.length !== 0) {
        throw new PsError(
          PsErrorCode.FRAME_MALFORMED,
          `keyCaching: a request named by signature carries ${seg.length} keys in segment 0 (expected none)`,
        );
      }
      const cached = held.get(ctx.peer)?.touch(id);
      if (cached === undefined) {
        stats.misses++;
        throw new PsError(
          PsErrorCode.KEY_CACHE_MISS,
          `keyCaching: no cached key list ${m.sig} of ${m.n} keys from ${ctx.peer} (restarted or evicted); resend the request with its keys`,
          { peer: ctx.peer, sig: m.sig, n: m.n },
        );
      }
      stats.hits++;
      data[0] = cached.slice(); // a copy: whoever handles the request may keep or change it
      return withoutFilterMeta(msg, NAME, data);
    },
  };
}

function cacheKey(sig: string, n: number): string {
  return `${sig}/${n}`;
}

/** Validates `meta.filters.keyCaching` of a received request. */
function parseMeta(raw: unknown): KeyCachingMeta {
  const bad = (why: string): PsError =>
    new PsError(PsErrorCode.MESSAGE_INVALID, `keyCaching: meta.filters.keyCaching is invalid: ${why}`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('not a map');
  const { sig, n, store } = raw as Record<string, unknown>;
  if (typeof sig !== 'string' || !SIG_RE.test(sig)) throw bad(`sig ${String(sig)} is not 16 hex digits`);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw bad(`n ${String(n)} is not a count >= 1`);
  if (store !== undefined && store !== true) throw bad(`store ${String(store)} is neither absent nor true`);
  return store === true ? { sig, n, store } : { sig, n };
}

/**
 * A least-recently-used map of key lists bounded in entries and in bytes (a Map keeps insertion
 * order: the first entry is the least recently used). The sender's mirror and the receiver's
 * cache are two of these, moved by the same operations: `touch` on a hit, `set` on a store.
 */
class ListLru<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxBytes: number,
  ) {}

  /** The value under `key`, now the most recently used; undefined when absent. */
  touch(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /**
   * Stores `value` under `key` as the most recently used (replacing any), then evicts the least
   * recently used until within bounds. `bytes` is at most `maxBytes`, so the new entry stays.
   * @returns how many entries were evicted.
   */
  set(key: string, value: V, bytes: number): number {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.bytes -= old.bytes;
    }
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    let evicted = 0;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.capacity && this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
      evicted++;
    }
    return evicted;
  }
}
