import { Decoder, Encoder } from '@msgpack/msgpack';
import { PsError, PsErrorCode } from '../errors.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import { keyWords, type ValArray, type ValDtype } from '../wire/kv-pairs.js';
import { checkRanges, RangeWords, type TableRange } from './table-range.js';

/**
 * The table snapshot format: one {@link TableRange} with what it belongs to, as bytes
 * (browser-safe; the disk functions are in `@ps/core/node`).
 *
 * Layout (all integers little-endian):
 * ```
 * 0   u8 'P' 0x50, u8 'S' 0x53, u8 'T' 0x54, u8 'S' 0x53      magic
 * 4   u32 version (1)
 * 8   u32 header byte length H
 * 12  u32 reserved, 0
 * 16  H bytes of msgpack header, zero-padded to 8 bytes:
 *       { app, handler, dtype: 'float32' | 'float64', states, keys: n, vals: sum of lens,
 *         ranges?: [[begin, end | null], ...] }      (bigint bounds; null end = 2^64)
 * ..  n x u64 keys
 * ..  n x i32 lens, zero-padded to 8 bytes
 * ..  states x (vals x f32 or f64) slabs, each zero-padded to 8 bytes
 * ```
 * Every segment starts at a multiple of 8 from the start, so a snapshot read into an 8-aligned
 * buffer decodes into views without copies. There is no checksum: `writeSnapshot` (from
 * `@ps/core/node`) makes torn files impossible, not bit rot detectable.
 */
export const SNAPSHOT_VERSION = 1;

/**
 * The snapshot set a file belongs to: every server on one ring of one run writes one file per app,
 * and a restore takes one whole set (see `restoreServer`).
 */
export interface SnapshotSet {
  /** The run (`ClusterView.run`, chosen by the scheduler when it started). */
  run: string;
  /** The version of the ring the servers snapshotted on. */
  ring: number;
  /** The servers on that ring: the set is complete when each of them wrote its file. */
  servers: string[];
  /** The server that wrote this file. */
  node: string;
  /** When the file was written, in ms since 1970 (UTC). */
  writtenAt: number;
}

/** What a snapshot belongs to: the app id (table) and the name of the handler's update rule. */
export interface SnapshotMeta {
  /** App id of the table (non-negative integer). */
  app: number;
  /** Name of the update rule (`UpdateRule.name`, e.g. `'adagrad'`), to refuse restoring into another. */
  handler: string;
  /** The set the file belongs to (absent on a snapshot of a table alone, outside a cluster). */
  set?: SnapshotSet;
}

/** A decoded snapshot. */
export interface DecodedSnapshot {
  meta: SnapshotMeta;
  /**
   * The key ranges the snapshot covers, when it was encoded with them: restoring with
   * `table.importRanges(ranges, data)` also zeroes keys in these ranges that the snapshot lacks.
   */
  ranges?: KeyRange[];
  data: TableRange;
}

const MAGIC = [0x50, 0x53, 0x54, 0x53] as const;
const FIXED = 16;
/** More slabs than any update rule needs; bounds what a corrupt header can ask for. */
const MAX_STATES = 255;

const pad8 = (n: number) => (n + 7) & ~7;
const ZEROS = new Uint8Array(8);

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const decoder = new Decoder({ useBigInt64: true });

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Encodes a table range with its meta (and optionally the ranges it covers) into the parts of
 * one snapshot, without copying the arrays: `[header, keys, lens, padding?, slab 0, padding?,
 * ...]`. Concatenated (or written one after another), the parts are the snapshot.
 * @param ranges the key ranges `r` was exported from; stored so that a restore can zero keys
 *   the snapshot does not hold. Sorted and disjoint.
 * @throws PsError `PS_ERR_SNAPSHOT` when `r` or `meta` are not consistent (keys not strictly
 *   increasing or outside `ranges`, lengths that do not add up, slabs of another dtype or count,
 *   a bad app id), `PS_ERR_MESSAGE_INVALID` for ranges that are not sorted and disjoint.
 */
export function encodeTableRange(
  r: TableRange,
  meta: SnapshotMeta,
  ranges?: readonly KeyRange[],
): Uint8Array[] {
  if (
    !(r.keys instanceof BigUint64Array) ||
    !(r.lens instanceof Int32Array) ||
    r.lens.length !== r.keys.length
  ) {
    throw new PsError(
      PsErrorCode.SNAPSHOT,
      'table range needs BigUint64Array keys and Int32Array lens of one length',
    );
  }
  const n = r.keys.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const len = r.lens[i]!;
    if (len < 0) throw new PsError(PsErrorCode.SNAPSHOT, `table range lens[${i}] is negative (${len})`);
    total += len;
  }
  checkShape(r.dtype, r.states, n, total, meta.app, meta.handler);
  const Ctor = r.dtype === 'float64' ? Float64Array : Float32Array;
  if (r.slabs.length !== r.states || r.slabs.some((s) => !(s instanceof Ctor) || s.length !== total)) {
    throw new PsError(
      PsErrorCode.SNAPSHOT,
      `table range must carry ${r.states} ${Ctor.name} slab(s) of ${total} values (the sum of lens)`,
    );
  }
  if (ranges !== undefined) checkRanges(ranges);
  checkKeys(r.keys, ranges === undefined ? undefined : new RangeWords(ranges), (why, index) => {
    throw new PsError(PsErrorCode.SNAPSHOT, `table range ${why}`, { index });
  });
  const head = encoder.encode({
    app: meta.app,
    handler: meta.handler,
    dtype: r.dtype,
    states: r.states,
    keys: n,
    vals: total,
    ranges: ranges?.map((x) => [x.begin, x.end >= KEY_SPACE_END ? null : x.end]),
    set:
      meta.set === undefined
        ? undefined
        : checkSet(meta.set, (why) => {
            throw new PsError(PsErrorCode.SNAPSHOT, `snapshot set ${why}`);
          }),
  });
  const header = new Uint8Array(FIXED + pad8(head.length));
  header.set(MAGIC, 0);
  const dv = new DataView(header.buffer);
  dv.setUint32(4, SNAPSHOT_VERSION, true);
  dv.setUint32(8, head.length, true);
  header.set(head, FIXED);
  const parts: Uint8Array[] = [header];
  const push = (seg: ArrayBufferView) => {
    if (seg.byteLength > 0) parts.push(bytesOf(seg));
    const p = pad8(seg.byteLength) - seg.byteLength;
    if (p > 0) parts.push(ZEROS.subarray(0, p));
  };
  push(r.keys);
  push(r.lens);
  for (const slab of r.slabs) push(slab);
  return parts;
}

/**
 * Decodes a snapshot made by {@link encodeTableRange}. Arrays are views of `bytes` where they lie
 * at aligned addresses (so `bytes` must not be reused while the result is), copies otherwise.
 * The result is checked whole: keys strictly increasing and inside the ranges (when given),
 * lengths non-negative and adding up.
 * @throws PsError `PS_ERR_SNAPSHOT` for anything else than a whole, well-formed snapshot of this
 *   version: bad magic or version, a truncated or overlong input, a header that is not valid
 *   msgpack or lacks a field, inconsistent lengths, unsorted keys, bad ranges.
 */
export function decodeTableRange(bytes: Uint8Array): DecodedSnapshot {
  const bad = (why: string, details?: Record<string, unknown>, cause?: unknown): never => {
    throw new PsError(PsErrorCode.SNAPSHOT, `not a valid table snapshot: ${why}`, details, { cause });
  };
  if (!(bytes instanceof Uint8Array)) bad('input must be a Uint8Array');
  const size = bytes.byteLength;
  if (size < FIXED)
    bad(`${size} bytes is shorter than the ${FIXED}-byte header (truncated?)`, { bytes: size });
  if (MAGIC.some((m, i) => bytes[i] !== m)) bad('bad magic bytes');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== SNAPSHOT_VERSION) {
    bad(`format version ${version} is not supported (this build reads ${SNAPSHOT_VERSION})`, { version });
  }
  const headLen = dv.getUint32(8, true);
  const dataAt = FIXED + pad8(headLen);
  if (dataAt > size)
    bad(`${size} bytes is shorter than its ${dataAt}-byte header (truncated?)`, { bytes: size });
  let head: unknown;
  try {
    head = decoder.decode(bytes.subarray(FIXED, FIXED + headLen));
  } catch (cause) {
    bad(`header is not valid msgpack: ${(cause as Error).message}`, undefined, cause);
  }
  if (head === null || typeof head !== 'object' || Array.isArray(head)) bad('header is not a map');
  const h = head as Record<string, unknown>;
  const { app, handler, dtype, states, keys: n, vals: total } = h;
  try {
    checkShape(dtype, states, n, total, app, handler);
  } catch (cause) {
    bad((cause as PsError).message, undefined, cause);
  }
  const shape = {
    dtype: dtype as ValDtype,
    states: states as number,
    n: n as number,
    total: total as number,
  };
  const ranges = h.ranges === undefined ? undefined : decodeRanges(h.ranges, bad);
  const bpe = shape.dtype === 'float64' ? 8 : 4;
  const keysAt = dataAt;
  const lensAt = keysAt + 8 * shape.n;
  const slabsAt = lensAt + pad8(4 * shape.n);
  const slabBytes = pad8(bpe * shape.total);
  const end = slabsAt + shape.states * slabBytes;
  if (end > size)
    bad(`${size} bytes is shorter than the ${end} its header announces (truncated?)`, { bytes: size });
  if (end < size) bad(`${size - end} bytes after the last slab`, { bytes: size });
  const keys = view(bytes, BigUint64Array, keysAt, shape.n);
  const lens = view(bytes, Int32Array, lensAt, shape.n);
  const slabs: ValArray[] = [];
  for (let s = 0; s < shape.states; s++) {
    const at = slabsAt + s * slabBytes;
    slabs.push(
      shape.dtype === 'float64'
        ? view(bytes, Float64Array, at, shape.total)
        : view(bytes, Float32Array, at, shape.total),
    );
  }
  let sum = 0;
  for (let i = 0; i < shape.n; i++) {
    const len = lens[i]!;
    if (len < 0) bad(`lens[${i}] is negative (${len})`, { index: i });
    sum += len;
  }
  if (sum !== shape.total) bad(`lens add up to ${sum}, the header says ${shape.total}`);
  checkKeys(keys, ranges === undefined ? undefined : new RangeWords(ranges), (why, index) =>
    bad(why, { index }),
  );
  const data: TableRange = { keys, lens, slabs, dtype: shape.dtype, states: shape.states };
  const meta: SnapshotMeta = { app: app as number, handler: handler as string };
  if (h.set !== undefined) meta.set = checkSet(h.set, (why) => bad(`its set ${why}`));
  return ranges === undefined ? { meta, data } : { meta, ranges, data };
}

/** Calls `fail` unless keys are strictly increasing and (with `rw`) inside the ranges. */
function checkKeys(
  keys: BigUint64Array,
  rw: RangeWords | undefined,
  fail: (why: string, index: number) => never,
): void {
  const w = keyWords(keys);
  for (let i = 0; i < keys.length; i++) {
    const lo = w[2 * i]!;
    const hi = w[2 * i + 1]!;
    if (i > 0) {
      const phi = w[2 * i - 1]!;
      if (hi < phi || (hi === phi && lo <= w[2 * i - 2]!)) {
        fail(`keys are not strictly increasing at index ${i}`, i);
      }
    }
    if (rw && !rw.contains(lo, hi)) fail(`key ${keys[i]} lies outside the snapshot's ranges`, i);
  }
}

/** Throws a plain PsError `PS_ERR_SNAPSHOT` unless the header fields have the right types. */
function checkShape(
  dtype: unknown,
  states: unknown,
  n: unknown,
  total: unknown,
  app: unknown,
  handler: unknown,
) {
  const fail = (why: string): never => {
    throw new PsError(PsErrorCode.SNAPSHOT, why);
  };
  if (dtype !== 'float32' && dtype !== 'float64')
    fail(`dtype must be 'float32' or 'float64', got ${String(dtype)}`);
  if (!Number.isInteger(states) || (states as number) < 1 || (states as number) > MAX_STATES) {
    fail(`states must be an integer in [1, ${MAX_STATES}], got ${String(states)}`);
  }
  // Lengths fit in an Int32Array and typed-array sizes.
  const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0x7fffffff;
  if (!count(n)) fail(`key count must be a non-negative 32-bit integer, got ${String(n)}`);
  if (!count(total)) fail(`value count must be a non-negative 32-bit integer, got ${String(total)}`);
  if (!Number.isInteger(app) || (app as number) < 0)
    fail(`app must be a non-negative integer, got ${String(app)}`);
  if (typeof handler !== 'string') fail(`handler must be a string, got ${typeof handler}`);
}

function decodeRanges(raw: unknown, bad: (why: string) => never): KeyRange[] {
  if (!Array.isArray(raw)) bad('ranges is not an array');
  const bound = (v: unknown): bigint | undefined =>
    typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v as number) : undefined;
  const out: KeyRange[] = (raw as unknown[]).map((x, i) => {
    if (!Array.isArray(x) || x.length !== 2) bad(`range ${i} is not a [begin, end] pair`);
    const [b, e] = x as unknown[];
    const begin = bound(b);
    const end = e === null ? KEY_SPACE_END : bound(e);
    if (begin === undefined || end === undefined) bad(`range ${i} has bounds that are not integers`);
    return { begin: begin as bigint, end: end as bigint };
  });
  try {
    checkRanges(out);
  } catch (cause) {
    bad((cause as PsError).message);
  }
  return out;
}

type ViewCtor<T> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/** A typed array over `count` elements at `off` in `bytes`: a view when aligned, else a copy. */
function view<T>(bytes: Uint8Array, Ctor: ViewCtor<T>, off: number, count: number): T {
  const at = bytes.byteOffset + off;
  if (at % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer as ArrayBuffer, at, count);
  const copy = new Uint8Array(count * Ctor.BYTES_PER_ELEMENT);
  copy.set(bytes.subarray(off, off + copy.length));
  return new Ctor(copy.buffer, 0, count);
}

/** Checks the shape of a {@link SnapshotSet} (calls `bad` with what is wrong); returns it. */
function checkSet(v: unknown, bad: (why: string) => never): SnapshotSet {
  if (v === null || typeof v !== 'object') bad('is not a map');
  const { run, ring, servers, node, writtenAt } = v as Partial<SnapshotSet>;
  if (typeof run !== 'string' || run.length === 0) bad('names no run');
  if (!Number.isInteger(ring) || ring! < 0) bad('has no ring version');
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((x) => typeof x === 'string'))
    bad('lists no servers');
  if (typeof node !== 'string' || !servers!.includes(node)) bad('names a node that is not on its ring');
  if (typeof writtenAt !== 'number' || !Number.isFinite(writtenAt)) bad('has no time');
  return { run: run!, ring: ring!, servers: [...servers!], node: node!, writtenAt: writtenAt! };
}

/**
 * Decodes only the meta of a snapshot (app, handler, set) from its first bytes: at least the
 * fixed header and the msgpack head (a reader may pass the whole file). For choosing among files
 * without reading their data.
 * @throws PsError `PS_ERR_SNAPSHOT` when the bytes do not start a valid snapshot, or are fewer
 *   than its header (the error's details hold `need`: how many bytes the header takes).
 */
export function decodeSnapshotMeta(bytes: Uint8Array): SnapshotMeta {
  const bad = (why: string, details?: Record<string, unknown>): never => {
    throw new PsError(PsErrorCode.SNAPSHOT, `not a valid table snapshot: ${why}`, details);
  };
  if (bytes.byteLength < FIXED) bad('shorter than its header', { need: FIXED });
  if (MAGIC.some((m, i) => bytes[i] !== m)) bad('bad magic bytes');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== SNAPSHOT_VERSION) bad(`format version ${version} is not supported`, { version });
  const headLen = dv.getUint32(8, true);
  if (bytes.byteLength < FIXED + headLen) bad('shorter than its header', { need: FIXED + headLen });
  let head: unknown;
  try {
    head = decoder.decode(bytes.subarray(FIXED, FIXED + headLen));
  } catch (cause) {
    bad(`header is not valid msgpack: ${(cause as Error).message}`);
  }
  if (head === null || typeof head !== 'object' || Array.isArray(head)) bad('header is not a map');
  const { app, handler, set } = head as Record<string, unknown>;
  if (!Number.isInteger(app) || (app as number) < 0 || typeof handler !== 'string') bad('no app or handler');
  const meta: SnapshotMeta = { app: app as number, handler: handler as string };
  if (set !== undefined) meta.set = checkSet(set, (why) => bad(`its set ${why}`));
  return meta;
}
