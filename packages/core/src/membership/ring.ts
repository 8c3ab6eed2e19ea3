import { PsError, PsErrorCode } from '../errors.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import { keyWords } from '../wire/kv-pairs.js';

/** Virtual servers per server when {@link RingOptions.virtualNodes} is not given. */
export const DEFAULT_VIRTUAL_NODES = 32;

/** Options of {@link Ring.create}. */
export interface RingOptions {
  /** Virtual servers (points on the ring) per server; a positive integer, default {@link DEFAULT_VIRTUAL_NODES}. */
  virtualNodes?: number;
  /** Version of the ring being built (default 0); {@link Ring.withServer} and {@link Ring.withoutServer} add 1. */
  version?: number;
}

/** A key range `[begin, end)` and the server that owns it. */
export interface OwnedRange extends KeyRange {
  readonly owner: string;
}

/** A key range `[begin, end)` whose owner differs between two rings (see {@link movedRanges}). */
export interface MovedRange extends KeyRange {
  /** Owner in the old ring. */
  readonly from: string;
  /** Owner in the new ring: the server that must receive the range. */
  readonly to: string;
}

/** The keys `keys[begin .. end)` (index bounds, end exclusive) all belong to `owner` (see {@link Ring.slice}). */
export interface KeySlice {
  readonly owner: string;
  readonly begin: number;
  readonly end: number;
}

/** The wire form of a ring: it is a pure function of these three fields. */
export interface WireRing {
  version: number;
  virtualNodes: number;
  servers: string[];
}

const MASK64 = (1n << 64n) - 1n;
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const utf8 = new TextEncoder();

/**
 * Position on the ring of virtual server `v` of server `id`: FNV-1a 64 over the UTF-8 bytes of
 * `` `${id}#${v}` ``, followed by the MurmurHash3 `fmix64` finalizer so that the high bits (which
 * decide where on the ring a point lands) depend on every input byte. Not cryptographic and not
 * meant to be: it only has to be deterministic on every node and spread points evenly. It uses
 * BigInt per byte, which is fine because it runs `virtualNodes` times per server when the ring
 * changes, never per key. The text before the last `#` is the id, so distinct (id, v) never
 * hash the same input.
 */
export function ringPosition(id: string, v: number): bigint {
  let h = FNV_OFFSET;
  for (const byte of utf8.encode(`${id}#${v}`)) {
    h ^= BigInt(byte);
    h = (h * FNV_PRIME) & MASK64;
  }
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & MASK64;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & MASK64;
  h ^= h >> 33n;
  return h;
}

/** Positions of all virtual servers of `id`, cached: rings that share a server share its positions. */
const positionCache = new Map<string, readonly bigint[]>();

function positionsOf(id: string, virtualNodes: number): readonly bigint[] {
  const cacheKey = `${virtualNodes}:${id}`;
  let p = positionCache.get(cacheKey);
  if (p === undefined) {
    const out: bigint[] = [];
    for (let v = 0; v < virtualNodes; v++) out.push(ringPosition(id, v));
    p = out;
    // Bounded so that a long-running scheduler with churning ids does not grow without limit.
    if (positionCache.size >= 4096) positionCache.clear();
    positionCache.set(cacheKey, p);
  }
  return p;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * First index `>= from` in strictly increasing key words `w` (as {@link keyWords}) of `n` keys
 * whose key is `>= hi * 2^32 + lo`. O(log n) over 32-bit words, no BigInt.
 */
function lowerBoundWords(w: Uint32Array, n: number, from: number, hi: number, lo: number): number {
  let a = from;
  let b = n;
  while (a < b) {
    const mid = (a + b) >>> 1;
    const khi = w[2 * mid + 1]!;
    if (khi < hi || (khi === hi && w[2 * mid]! < lo)) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * The consistent-hash ring of the 64-bit key space (Li et al., OSDI 2014, section 4.3).
 *
 * Each server sits on the ring as `virtualNodes` virtual servers at hashed positions
 * ({@link ringPosition}). A virtual server at position `p` owns the half-open key range that
 * **ends** at it: `[previous position, p)`; the first virtual server (smallest position) also owns
 * the wrap-around `[last position, 2^64)`. So a key `k` belongs to the virtual server at the
 * smallest position `> k`, or to the first one when there is none. If two virtual servers hash to
 * the same position, the one whose server id sorts first keeps it (the other owns nothing).
 *
 * A ring is immutable and a pure function of its set of server ids and `virtualNodes` (the order
 * of ids does not matter), so every node that knows the same membership computes the same ring.
 * `version` only tags it; {@link withServer} and {@link withoutServer} return new rings with
 * `version + 1`.
 *
 * Sizes below: `s` servers, `m = s · virtualNodes` points, `r <= m` owned ranges after merging.
 * Building a ring costs O(m log m) (BigInt compares; hashing only for servers not seen before).
 * An empty ring (no servers) is allowed; lookups on it throw `RangeError`.
 */
export class Ring {
  /** Server ids, sorted. */
  readonly servers: readonly string[];
  /** Version of this ring (see {@link RingOptions.version}). */
  readonly version: number;
  /** Virtual servers per server. */
  readonly virtualNodes: number;

  private readonly serverSet: ReadonlySet<string>;
  /** Sorted distinct positions of the virtual servers, and the owner of each. */
  private readonly points: readonly bigint[];
  private readonly pointOwners: readonly string[];
  /** Owned ranges in key order, adjacent ranges of one owner merged. */
  private readonly owned: readonly OwnedRange[];
  /** `owned[i].end` split into 32-bit words (high, low) for {@link slice}. */
  private readonly endHi: Uint32Array;
  private readonly endLo: Uint32Array;
  private readonly chainCache = new Map<number, readonly (readonly string[])[]>();

  private constructor(servers: string[], virtualNodes: number, version: number) {
    this.servers = servers;
    this.serverSet = new Set(servers);
    this.virtualNodes = virtualNodes;
    this.version = version;

    const entries: { pos: bigint; id: string }[] = [];
    for (const id of servers) for (const pos of positionsOf(id, virtualNodes)) entries.push({ pos, id });
    entries.sort((a, b) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : compareStrings(a.id, b.id)));
    const points: bigint[] = [];
    const owners: string[] = [];
    for (const e of entries) {
      if (points.length > 0 && points[points.length - 1] === e.pos) continue; // collision: first id wins
      points.push(e.pos);
      owners.push(e.id);
    }
    this.points = points;
    this.pointOwners = owners;

    const owned: OwnedRange[] = [];
    const push = (begin: bigint, end: bigint, owner: string): void => {
      if (begin >= end) return;
      const last = owned[owned.length - 1];
      if (last !== undefined && last.owner === owner && last.end === begin) {
        owned[owned.length - 1] = { begin: last.begin, end, owner };
      } else {
        owned.push({ begin, end, owner });
      }
    };
    const m = points.length;
    if (m > 0) {
      push(0n, points[0]!, owners[0]!);
      for (let i = 1; i < m; i++) push(points[i - 1]!, points[i]!, owners[i]!);
      push(points[m - 1]!, KEY_SPACE_END, owners[0]!);
    }
    this.owned = owned;
    this.endHi = new Uint32Array(owned.length);
    this.endLo = new Uint32Array(owned.length);
    for (let i = 0; i < owned.length; i++) {
      const end = owned[i]!.end;
      // The last range ends at 2^64, which does not fit in two words; slice never needs its bound.
      if (end < KEY_SPACE_END) {
        this.endHi[i] = Number(end >> 32n);
        this.endLo[i] = Number(end & 0xffffffffn);
      }
    }
  }

  /**
   * A ring of `serverIds` (any order, no duplicates; may be empty).
   * @throws PsError `PS_ERR_CONFIG` on a duplicate id or a `virtualNodes` that is not a positive integer.
   */
  static create(serverIds: Iterable<string>, options: RingOptions = {}): Ring {
    const virtualNodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `ring virtualNodes must be a positive integer, got ${virtualNodes}`,
        {
          virtualNodes,
        },
      );
    }
    const version = options.version ?? 0;
    if (!Number.isInteger(version) || version < 0) {
      throw new PsError(PsErrorCode.CONFIG, `ring version must be a non-negative integer, got ${version}`, {
        version,
      });
    }
    const ids = [...serverIds].sort(compareStrings);
    for (let i = 1; i < ids.length; i++) {
      if (ids[i] === ids[i - 1]) {
        throw new PsError(
          PsErrorCode.CONFIG,
          `server id ${JSON.stringify(ids[i])} appears twice on the ring`,
          {
            id: ids[i],
          },
        );
      }
    }
    return new Ring(ids, virtualNodes, version);
  }

  /** Rebuilds a ring from its wire form ({@link toWire}). */
  static fromWire(w: WireRing): Ring {
    return Ring.create(w.servers, { virtualNodes: w.virtualNodes, version: w.version });
  }

  /** The wire form: version, virtual servers per server, and the sorted server ids. */
  toWire(): WireRing {
    return { version: this.version, virtualNodes: this.virtualNodes, servers: [...this.servers] };
  }

  /** Number of servers. */
  get size(): number {
    return this.servers.length;
  }

  /** True when `id` is a server of this ring. */
  has(id: string): boolean {
    return this.serverSet.has(id);
  }

  /**
   * A new ring with server `id` added and `version + 1`. By consistent hashing, only the ranges
   * the new server now owns change hands (see {@link movedRanges}).
   * @throws RangeError when `id` is already on the ring.
   */
  withServer(id: string): Ring {
    if (this.has(id)) throw new RangeError(`server ${JSON.stringify(id)} is already on the ring`);
    return new Ring([...this.servers, id].sort(compareStrings), this.virtualNodes, this.version + 1);
  }

  /**
   * A new ring without server `id` and `version + 1`; its ranges go to the servers that follow
   * them clockwise.
   * @throws RangeError when `id` is not on the ring.
   */
  withoutServer(id: string): Ring {
    if (!this.has(id)) throw new RangeError(`server ${JSON.stringify(id)} is not on the ring`);
    return new Ring(
      this.servers.filter((s) => s !== id),
      this.virtualNodes,
      this.version + 1,
    );
  }

  /**
   * The owned key ranges in key order: they cover `[0, 2^64)` without gaps or overlaps, and two
   * adjacent ranges never have the same owner (so a one-server ring has one range). At most
   * `m + 1` ranges; `[]` for an empty ring. O(1): the list is computed once per ring; do not mutate it.
   */
  ranges(): readonly OwnedRange[] {
    return this.owned;
  }

  /** Index in {@link ranges} of the range holding `key`. O(log r) BigInt compares. */
  private rangeIndexOf(key: bigint): number {
    if (key < 0n || key >= KEY_SPACE_END) throw new RangeError(`key ${key} is outside [0, 2^64)`);
    if (this.owned.length === 0) throw new RangeError('the ring has no servers');
    let lo = 0;
    let hi = this.owned.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.owned[mid]!.end <= key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The server owning `key`. O(log r).
   * @throws RangeError on an empty ring or a key outside `[0, 2^64)`.
   */
  ownerOf(key: bigint): string {
    return this.owned[this.rangeIndexOf(key)]!.owner;
  }

  /** The owned range (from {@link ranges}) that holds `key`. O(log r). */
  rangeOf(key: bigint): OwnedRange {
    return this.owned[this.rangeIndexOf(key)]!;
  }

  /**
   * The chain that stores `key` (or the keys of `range`): its owner (the master) followed by the
   * next `k` distinct servers clockwise on the ring, in chain-replication order: the order a push
   * travels (the master applies it and forwards it to the second, which forwards it to the third,
   * up to the last, the tail, whose holding it is what acknowledges the push). Returns all
   * servers when there are at most `k + 1`. A range must lie inside one owned range (as the
   * ranges of {@link ranges} and {@link movedRanges} do). O(log m + walk), where the walk visits
   * points until it has found `k` other servers (about `k · m / s` points on a balanced ring).
   * @throws RangeError on an empty ring, a bad key or `k`, or a range that crosses owners.
   */
  replicasOf(keyOrRange: bigint | KeyRange, k: number): string[] {
    if (!Number.isInteger(k) || k < 0) {
      throw new RangeError(`replica count must be a non-negative integer, got ${k}`);
    }
    let key: bigint;
    if (typeof keyOrRange === 'bigint') {
      key = keyOrRange;
    } else {
      const { begin, end } = keyOrRange;
      if (begin >= end) throw new RangeError(`empty key range [${begin}, ${end})`);
      key = begin;
      const r = this.rangeOf(begin);
      if (end > r.end) {
        throw new RangeError(
          `key range [${begin}, ${end}) crosses owners on the ring (${r.owner} ends at ${r.end})`,
        );
      }
    }
    this.rangeIndexOf(key); // validates the key and that the ring is non-empty
    const m = this.points.length;
    // The owning point: the first position > key, wrapping to the first point.
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! <= key) lo = mid + 1;
      else hi = mid;
    }
    const start = lo === m ? 0 : lo;
    const want = Math.min(k + 1, this.servers.length);
    const chain: string[] = [];
    for (let step = 0; step < m && chain.length < want; step++) {
      const owner = this.pointOwners[(start + step) % m]!;
      if (!chain.includes(owner)) chain.push(owner);
    }
    return chain;
  }

  /**
   * Slices strictly increasing `keys` by owner: the returned slices are in key order, non-empty,
   * cover the indices `[0, keys.length)` without gaps, and two adjacent slices never have the same
   * owner (a server owning several ranges gets several slices). Keys are not validated here (use
   * `validateKeys`). O(r' · log n) where `r' <= r` is the number of owned ranges the keys span:
   * binary searches over the keys' 32-bit words, no BigInt per key.
   * @throws RangeError on an empty ring with keys.
   */
  slice(keys: BigUint64Array): KeySlice[] {
    const n = keys.length;
    if (n === 0) return [];
    const w = keyWords(keys);
    let i = this.rangeIndexOf(keys[0]!);
    const last = this.owned.length - 1;
    const out: KeySlice[] = [];
    let begin = 0;
    while (begin < n) {
      const end = i === last ? n : lowerBoundWords(w, n, begin, this.endHi[i]!, this.endLo[i]!);
      if (end > begin) {
        const owner = this.owned[i]!.owner;
        const prev = out[out.length - 1];
        // Adjacent owned ranges have distinct owners, but skipped (empty) ranges can separate two of one owner.
        if (prev !== undefined && prev.owner === owner) {
          out[out.length - 1] = { owner, begin: prev.begin, end };
        } else {
          out.push({ owner, begin, end });
        }
      }
      begin = end;
      i++;
    }
    return out;
  }

  /**
   * Slices strictly increasing `keys` by owned range, without merging: one entry per range of
   * {@link ranges} that holds some of the keys, in key order, with `index` the range's position
   * in {@link ranges} and `[begin, end)` the key indices. O(r' · log n), no BigInt per key.
   * @throws RangeError on an empty ring with keys.
   */
  sliceByRange(keys: BigUint64Array): { index: number; begin: number; end: number }[] {
    const n = keys.length;
    if (n === 0) return [];
    const w = keyWords(keys);
    let i = this.rangeIndexOf(keys[0]!);
    const last = this.owned.length - 1;
    const out: { index: number; begin: number; end: number }[] = [];
    let begin = 0;
    while (begin < n) {
      const end = i === last ? n : lowerBoundWords(w, n, begin, this.endHi[i]!, this.endLo[i]!);
      if (end > begin) out.push({ index: i, begin, end });
      begin = end;
      i++;
    }
    return out;
  }

  /**
   * The replica chain of every range of {@link ranges} (same order): the master first, then `k`
   * successors (see {@link replicasOf}). Computed once per ring and `k`; do not mutate.
   */
  chains(k: number): readonly (readonly string[])[] {
    let c = this.chainCache.get(k);
    if (c === undefined) {
      c = this.owned.map((r) => this.replicasOf(r, k));
      this.chainCache.set(k, c);
    }
    return c;
  }

  /**
   * {@link slice} grouped by owner: for each server that owns some of `keys`, its index ranges
   * `[begin, end)` in key order. Same cost as {@link slice}.
   */
  sliceByOwner(keys: BigUint64Array): Map<string, { begin: number; end: number }[]> {
    const out = new Map<string, { begin: number; end: number }[]>();
    for (const s of this.slice(keys)) {
      const list = out.get(s.owner);
      if (list === undefined) out.set(s.owner, [{ begin: s.begin, end: s.end }]);
      else list.push({ begin: s.begin, end: s.end });
    }
    return out;
  }

  /** See {@link movedRanges}. */
  static movedRanges(from: Ring, to: Ring): MovedRange[] {
    return movedRanges(from, to);
  }
}

/**
 * The key ranges whose owner differs between ring `from` and ring `to`, in key order, adjacent
 * ranges with the same `(from, to)` merged: what each `to` server must copy (from the `from`
 * server) when the membership changes. When `to` adds one server, every moved range has that
 * server as `to`; when `to` removes one, every moved range has it as `from` (consistent hashing).
 * An empty ring on either side owns nothing, so the result is then `[]`. O(r_from + r_to).
 */
export function movedRanges(from: Ring, to: Ring): MovedRange[] {
  const a = from.ranges();
  const b = to.ranges();
  const out: MovedRange[] = [];
  if (a.length === 0 || b.length === 0) return out;
  let i = 0;
  let j = 0;
  let begin = 0n;
  while (i < a.length && j < b.length) {
    const ra = a[i]!;
    const rb = b[j]!;
    const end = ra.end < rb.end ? ra.end : rb.end;
    if (ra.owner !== rb.owner) {
      const prev = out[out.length - 1];
      if (prev !== undefined && prev.end === begin && prev.from === ra.owner && prev.to === rb.owner) {
        out[out.length - 1] = { begin: prev.begin, end, from: ra.owner, to: rb.owner };
      } else {
        out.push({ begin, end, from: ra.owner, to: rb.owner });
      }
    }
    begin = end;
    if (ra.end === end) i++;
    if (rb.end === end) j++;
  }
  return out;
}
