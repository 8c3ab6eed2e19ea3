import { PsError, PsErrorCode } from '../errors.js';
import { readU16, readU32, writeU32 } from '../internal/le-bytes.js';
import type { Meta } from './message.js';

/**
 * The fixed binary layout of a data message's meta (frame version 2), beside msgpack.
 *
 * A push, pull or pushPull request and its answer carry the same dozen small fields every time
 * (app, ts, the booleans, done, ring, part, the incarnation, the key-list reference). msgpack
 * spends 6–12% of each end's CPU on them at 1,000 keys per request; this layout writes and reads
 * them at fixed offsets. A meta with anything else (a command, a body, a range, an error, other
 * filters' state, `sender`/`recipient`, a value out of the layout's range) stays msgpack: the
 * layout is an encoding of the common case, never a restriction of what a meta may hold (a key
 * it does not hold, {@link META_FIELDS} or any other, sends the meta as msgpack).
 *
 * The layout starts with 0xc1, the one byte msgpack never uses, so a decoder tells the two
 * apart by the first byte. All integers little-endian:
 * ```
 * 0   u8 0xc1
 * 1   u8 flags: 1 request, 2 push, 4 pull, 8 resend, 16 done, 32 ring, 64 part, 128 iter
 * 2   u8 flags: 1 inc, 2 deps, 4 keyReuse, 8 keyReuse.store (other bits zero)
 * 3   u8 inc length L (at most 32)
 * 4   u32 app         8  u32 ts        12 u32 done      16 u32 ring      20 u32 part
 * 24  u64 iter (a safe integer: the high u32 below 2^21)   32 u16 deps count D, u16 zero
 * 36  u32 keyReuse.n  40 u64 keyReuse.id (below 2^48: the high u32 below 2^16)
 * 48  L bytes of inc (ASCII), then D x u32 deps
 * ```
 * A field whose flag is clear reads as absent and its slot must be zero; the meta must be exactly
 * `48 + L + 4D` bytes. Decoding is strict: anything else is `PS_ERR_FRAME_MALFORMED`.
 */
export const DATA_META_MARKER = 0xc1;

/** Bytes of the fixed part of the layout. */
const FIXED = 48;
const MAX_INC = 32;
const MAX_DEPS = 4096;
/** Key-list reuse ids stay below this (see key-list-reuse.ts). */
const MAX_REUSE_ID = 2 ** 48;
const KEY_REUSE = 'keyReuse';

const F_REQUEST = 1;
const F_PUSH = 2;
const F_PULL = 4;
const F_RESEND = 8;
const F_DONE = 16;
const F_RING = 32;
const F_PART = 64;
const F_ITER = 128;
const G_INC = 1;
const G_DEPS = 2;
const G_REUSE = 4;
const G_STORE = 8;

/** Room for the fixed part, the longest inc and the most deps. */
const scratch = new Uint8Array(FIXED + MAX_INC + 4 * MAX_DEPS);

const isU32 = (v: unknown): v is number => typeof v === 'number' && v >>> 0 === v && !Object.is(v, -0);

/**
 * Writes `meta` in the binary layout, when it fits (see {@link DATA_META_MARKER}).
 * @returns a view of a shared buffer, valid until the next call (copy it out at once), or
 *   `undefined` when the meta must travel as msgpack.
 */
export function writeDataMeta(meta: Meta): Uint8Array | undefined {
  // One pass over the meta's own keys. Metas come in many shapes (fields added when present,
  // spreads), so property loads here are megamorphic: reading only the keys present (from the
  // map's enum cache) costs far less than probing each absent field. An unknown key sends the
  // meta as msgpack.
  const keys = Object.keys(meta);
  const m = meta as unknown as Record<string, unknown>;
  let f = 0;
  let g = 0;
  let app = -1;
  let ts = -1;
  let done = 0;
  let ring = 0;
  let part = 0;
  let iter = 0;
  let inc = '';
  let deps: readonly number[] | undefined;
  let reuse: { id: number; n: number } | undefined;
  let seen = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = m[k];
    if (v === undefined) continue;
    switch (k) {
      case 'app':
        if (!isU32(v)) return undefined;
        app = v;
        break;
      case 'ts':
        if (!isU32(v)) return undefined;
        ts = v;
        break;
      case 'request':
        if (typeof v !== 'boolean') return undefined;
        seen |= 1;
        if (v) f |= F_REQUEST;
        break;
      case 'push':
        if (typeof v !== 'boolean') return undefined;
        seen |= 2;
        if (v) f |= F_PUSH;
        break;
      case 'pull':
        if (typeof v !== 'boolean') return undefined;
        seen |= 4;
        if (v) f |= F_PULL;
        break;
      case 'resend':
        if (v !== true) return undefined;
        f |= F_RESEND;
        break;
      case 'done':
        if (!isU32(v)) return undefined;
        done = v;
        f |= F_DONE;
        break;
      case 'ring':
        if (!isU32(v)) return undefined;
        ring = v;
        f |= F_RING;
        break;
      case 'part':
        if (!isU32(v)) return undefined;
        part = v;
        f |= F_PART;
        break;
      case 'iter':
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) return undefined;
        iter = v;
        f |= F_ITER;
        break;
      case 'inc':
        if (typeof v !== 'string' || v.length > MAX_INC) return undefined;
        for (let j = 0; j < v.length; j++) if (v.charCodeAt(j) > 0x7f) return undefined;
        inc = v;
        g |= G_INC;
        break;
      case 'deps':
        if (!Array.isArray(v) || v.length > MAX_DEPS) return undefined;
        for (let j = 0; j < v.length; j++) if (!isU32(v[j])) return undefined;
        deps = v;
        g |= G_DEPS;
        break;
      case 'filters':
        reuse = reuseOf(v);
        if (reuse === undefined) return undefined;
        g |= G_REUSE | ((reuse as { store?: true }).store ? G_STORE : 0);
        break;
      default:
        return undefined; // sender, recipient, cmd, body, range, error, or a key Meta does not have
    }
  }
  if (app < 0 || ts < 0 || seen !== 7) return undefined;
  const incLen = inc.length;
  const nDeps = deps === undefined ? 0 : deps.length;
  scratch.fill(0, 0, FIXED);
  scratch[0] = DATA_META_MARKER;
  scratch[1] = f;
  scratch[2] = g;
  scratch[3] = incLen;
  writeU32(scratch, 4, app);
  writeU32(scratch, 8, ts);
  writeU32(scratch, 12, done);
  writeU32(scratch, 16, ring);
  writeU32(scratch, 20, part);
  writeU32(scratch, 24, iter >>> 0);
  writeU32(scratch, 28, Math.floor(iter / 2 ** 32));
  scratch[32] = nDeps;
  scratch[33] = nDeps >>> 8;
  if (reuse !== undefined) {
    writeU32(scratch, 36, reuse.n);
    writeU32(scratch, 40, reuse.id >>> 0);
    writeU32(scratch, 44, Math.floor(reuse.id / 2 ** 32));
  }
  for (let i = 0; i < incLen; i++) scratch[FIXED + i] = inc.charCodeAt(i);
  for (let i = 0; i < nDeps; i++) writeU32(scratch, FIXED + incLen + 4 * i, deps![i]!);
  return scratch.subarray(0, FIXED + incLen + 4 * nDeps);
}

/**
 * Every field of {@link Meta} and where it travels: in the layout, or (present) only as msgpack.
 * The compiler makes a field added to Meta appear here; {@link writeDataMeta} sends any key
 * outside the layout as msgpack, so a new field travels before the layout learns it.
 */
export const META_FIELDS = {
  sender: 'msgpack',
  recipient: 'msgpack',
  app: 'layout',
  ts: 'layout',
  request: 'layout',
  push: 'layout',
  pull: 'layout',
  cmd: 'msgpack',
  body: 'msgpack',
  deps: 'layout',
  done: 'layout',
  ring: 'layout',
  part: 'layout',
  resend: 'layout',
  inc: 'layout',
  range: 'msgpack',
  iter: 'layout',
  filters: 'layout',
  error: 'msgpack',
} as const satisfies Record<keyof Meta, 'layout' | 'msgpack'>;

/**
 * The key-list reuse entry of `filters` when it holds only a well-formed `keyReuse` entry
 * (`{ id, n }` or `{ id, n, store: true }`), else `undefined`.
 */
function reuseOf(filters: unknown): { id: number; n: number } | undefined {
  if (filters === null || typeof filters !== 'object' || Array.isArray(filters)) return undefined;
  const r = (filters as Record<string, unknown>)[KEY_REUSE] as Record<string, unknown> | undefined;
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return undefined;
  if (Object.keys(filters).length !== 1) return undefined;
  const { id, n, store } = r;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_REUSE_ID || Object.is(id, -0)) {
    return undefined;
  }
  if (!isU32(n) || (store !== undefined && store !== true)) return undefined;
  if (Object.keys(r).length !== (store === undefined ? 2 : 3)) return undefined;
  return r as { id: number; n: number };
}

/** The last incarnation read: a peer sends the same one every request, so its string is reused. */
let lastInc = '';

function readInc(bytes: Uint8Array, len: number): string {
  let same = lastInc.length === len;
  for (let i = 0; i < len; i++) {
    const c = bytes[FIXED + i]!;
    if (c > 0x7f) throw malformed(`inc byte ${c} is not ASCII`);
    if (same && lastInc.charCodeAt(i) !== c) same = false;
  }
  if (same) return lastInc;
  let inc = '';
  for (let i = 0; i < len; i++) inc += String.fromCharCode(bytes[FIXED + i]!);
  lastInc = inc;
  return inc;
}

const malformed = (why: string) =>
  new PsError(
    PsErrorCode.FRAME_MALFORMED,
    `frame meta (binary layout) is malformed: ${why}; run the same @ps version on every node`,
  );

/**
 * Reads a meta written by {@link writeDataMeta} (`bytes` starts with {@link DATA_META_MARKER}).
 * @throws PsError `PS_ERR_FRAME_MALFORMED` for a wrong length, unknown flags, a non-zero slot of
 *   an absent field, or a value out of the layout's range.
 */
export function readDataMeta(bytes: Uint8Array): Meta {
  const n = bytes.byteLength;
  if (n < FIXED || bytes[0] !== DATA_META_MARKER)
    throw malformed(`${n} bytes, the fixed part alone is ${FIXED}`);
  const f = bytes[1]!;
  const g = bytes[2]!;
  const incLen = bytes[3]!;
  if (g & ~(G_INC | G_DEPS | G_REUSE | G_STORE)) throw malformed(`unknown flags ${g}`);
  if (g & G_STORE && !(g & G_REUSE)) throw malformed('keyReuse.store without keyReuse');
  if (incLen > MAX_INC || (!(g & G_INC) && incLen !== 0)) throw malformed(`inc length ${incLen}`);
  const nDeps = readU16(bytes, 32);
  if (readU16(bytes, 34) !== 0) throw malformed('reserved bytes 34-35 are not zero');
  if (nDeps > MAX_DEPS || (!(g & G_DEPS) && nDeps !== 0)) throw malformed(`deps count ${nDeps}`);
  if (n !== FIXED + incLen + 4 * nDeps) {
    throw malformed(`${n} bytes, the flags say ${FIXED + incLen + 4 * nDeps}`);
  }
  const meta = {
    app: readU32(bytes, 4),
    ts: readU32(bytes, 8),
    request: (f & F_REQUEST) !== 0,
    push: (f & F_PUSH) !== 0,
    pull: (f & F_PULL) !== 0,
  } as Meta;
  if (f & F_RESEND) meta.resend = true;
  if (f & F_DONE) meta.done = readU32(bytes, 12);
  else if (readU32(bytes, 12) !== 0) throw malformed('done is absent but its slot is not zero');
  if (f & F_RING) meta.ring = readU32(bytes, 16);
  else if (readU32(bytes, 16) !== 0) throw malformed('ring is absent but its slot is not zero');
  if (f & F_PART) meta.part = readU32(bytes, 20);
  else if (readU32(bytes, 20) !== 0) throw malformed('part is absent but its slot is not zero');
  const iterHi = readU32(bytes, 28);
  if (f & F_ITER) {
    if (iterHi >= 2 ** 21) throw malformed(`iter's high word ${iterHi} is past 2^53`);
    meta.iter = iterHi * 2 ** 32 + readU32(bytes, 24);
  } else if (readU32(bytes, 24) !== 0 || iterHi !== 0) {
    throw malformed('iter is absent but its slot is not zero');
  }
  const reuseN = readU32(bytes, 36);
  const idHi = readU32(bytes, 44);
  if (g & G_REUSE) {
    if (idHi >= MAX_REUSE_ID / 2 ** 32) throw malformed(`keyReuse.id's high word ${idHi} is past 2^48`);
    const reuseId = idHi * 2 ** 32 + readU32(bytes, 40);
    meta.filters = {
      [KEY_REUSE]: g & G_STORE ? { id: reuseId, n: reuseN, store: true } : { id: reuseId, n: reuseN },
    };
  } else if (reuseN !== 0 || readU32(bytes, 40) !== 0 || idHi !== 0) {
    throw malformed('keyReuse is absent but its slot is not zero');
  }
  if (g & G_INC) meta.inc = readInc(bytes, incLen);
  if (g & G_DEPS) {
    const deps = new Array<number>(nDeps);
    for (let i = 0; i < nDeps; i++) deps[i] = readU32(bytes, FIXED + incLen + 4 * i);
    meta.deps = deps;
  }
  return meta;
}
