import { Decoder, Encoder } from '@msgpack/msgpack';
import { PsError, PsErrorCode } from '../errors.js';
import { readU32, writeU32 } from '../internal/le-bytes.js';
import { DATA_META_MARKER, readDataMeta, writeDataMeta } from './data-meta.js';
import type { Message, Meta, Segment } from './message.js';
import { slabBytes } from './slab-bytes.js';

/**
 * The frame codec: a message as one binary frame (DESIGN.md, "Data path").
 *
 * Layout (all integers little-endian; a transport adds its own length prefix around it):
 * ```
 * 0   u8 0x50 'P', u8 0x53 'S', u8 version (2), u8 segment count n (<= 255)
 * 4   u32 meta byte length M
 * 8   n x (u32 dtype code, u32 byte length)           segment table
 * ..  M bytes of meta, zero-padded to 8 bytes: a data message's fixed binary layout (first byte
 *     0xc1, see data-meta.ts) or a msgpack map (everything else)
 * ..  each segment's raw bytes, zero-padded to 8 bytes
 * ```
 * Segments start at multiples of 8 from the frame start, so a frame that itself starts at an
 * 8-aligned address decodes into views without copies. Version 2 added the binary data meta;
 * version 1 frames (msgpack metas only) are refused, as any other version.
 */
export const FRAME_VERSION = 2;

/** Default largest frame a node accepts or sends: 512 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 512 * 1024 * 1024;

const MAGIC0 = 0x50;
const MAGIC1 = 0x53;
const MAX_SEGMENTS = 255;

const DTYPES = [Uint8Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigUint64Array] as const;
type SegmentCtor = (typeof DTYPES)[number];

function dtypeCode(seg: Segment): number {
  const i = DTYPES.indexOf(seg.constructor as SegmentCtor);
  if (i < 0) {
    throw new PsError(PsErrorCode.DTYPE, `cannot send a segment of type ${seg.constructor.name}`);
  }
  return i;
}

const pad8 = (n: number) => (n + 7) & ~7;
const ZEROS = new Uint8Array(8);

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const decoder = new Decoder({ useBigInt64: true });

function asBytes(seg: Segment): Uint8Array {
  return seg instanceof Uint8Array ? seg : new Uint8Array(seg.buffer, seg.byteOffset, seg.byteLength);
}

/**
 * Encodes a message into the parts of one frame, without copying the data segments: the result
 * is `[header, seg0 bytes, padding?, seg1 bytes, ...]`. Concatenated, the parts are the frame.
 * @throws PsError `PS_ERR_DTYPE` for an unsupported segment type, `PS_ERR_FRAME_TOO_LARGE` past
 *   `maxFrameBytes`.
 */
export function encodeFrame(msg: Message, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array[] {
  const n = msg.data.length;
  if (n > MAX_SEGMENTS) {
    throw new PsError(
      PsErrorCode.FRAME_TOO_LARGE,
      `a message carries at most ${MAX_SEGMENTS} segments, got ${n}`,
    );
  }
  // A view of a shared buffer (the layout's or msgpack's own, valid until its next encode),
  // copied into the header below.
  const metaBytes = writeDataMeta(msg.meta) ?? encoder.encodeSharedRef(msg.meta);
  const metaEnd = 8 + 8 * n + metaBytes.length;
  const headerLen = 8 + 8 * n + pad8(metaBytes.length);
  // A slab piece, not a fresh zeroed ArrayBuffer: every byte is written below (padding zeroed).
  const header = slabBytes(headerLen);
  header.fill(0, metaEnd, headerLen);
  header[0] = MAGIC0;
  header[1] = MAGIC1;
  header[2] = FRAME_VERSION;
  header[3] = n;
  writeU32(header, 4, metaBytes.length);
  const parts: Uint8Array[] = [header];
  let total = headerLen;
  for (let i = 0; i < n; i++) {
    const seg = msg.data[i]!;
    writeU32(header, 8 + 8 * i, dtypeCode(seg));
    writeU32(header, 12 + 8 * i, seg.byteLength);
    const bytes = asBytes(seg);
    if (bytes.byteLength > 0) parts.push(bytes);
    const p = pad8(bytes.byteLength) - bytes.byteLength;
    if (p > 0) parts.push(ZEROS.subarray(0, p));
    total += bytes.byteLength + p;
  }
  header.set(metaBytes, 8 + 8 * n);
  if (total > maxFrameBytes) {
    throw new PsError(
      PsErrorCode.FRAME_TOO_LARGE,
      `frame of ${total} bytes exceeds maxFrameBytes (${maxFrameBytes}); split the request or raise the limit on both ends`,
      { bytes: total, max: maxFrameBytes },
    );
  }
  return parts;
}

/** Total byte length of a frame's parts. */
export function frameLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  return n;
}

/** Concatenates frame parts into one buffer (8-aligned, since it is a fresh ArrayBuffer). */
export function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(frameLength(parts));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/**
 * Decodes one frame (given as one buffer, or as the parts {@link encodeFrame} produced) into a
 * message. A segment becomes a view of the input where it lies in one part at an aligned
 * address, and a copy otherwise.
 * @throws PsError `PS_ERR_FRAME_TRUNCATED` (shorter than its header says), `PS_ERR_FRAME_MALFORMED`
 *   (bad magic, version, dtype, meta, or trailing bytes), `PS_ERR_FRAME_TOO_LARGE`.
 */
export function decodeFrame(
  frame: Uint8Array | readonly Uint8Array[],
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): Message {
  const parts: readonly Uint8Array[] = frame instanceof Uint8Array ? [frame] : frame;
  const first = parts[0];
  const total = frameLength(parts);
  if (total > maxFrameBytes) {
    throw new PsError(
      PsErrorCode.FRAME_TOO_LARGE,
      `frame of ${total} bytes exceeds maxFrameBytes (${maxFrameBytes})`,
    );
  }
  if (first === undefined || total < 8) {
    throw new PsError(
      PsErrorCode.FRAME_TRUNCATED,
      `frame of ${total} bytes is shorter than the 8-byte header`,
    );
  }
  // The fixed header and segment table must sit in the first part (encodeFrame puts them there);
  // otherwise fall back to one contiguous copy.
  const head = first.byteLength >= 8 ? first : concatParts(parts);
  if (head[0] !== MAGIC0 || head[1] !== MAGIC1) {
    throw new PsError(
      PsErrorCode.FRAME_MALFORMED,
      'not a @ps frame (bad magic); is the peer speaking another protocol?',
    );
  }
  if (head[2] !== FRAME_VERSION) {
    throw new PsError(
      PsErrorCode.FRAME_MALFORMED,
      `frame version ${head[2]} is not supported (this node speaks ${FRAME_VERSION}); run the same @ps version on every node`,
    );
  }
  const n = head[3]!;
  const metaLen = readU32(head, 4);
  const headerLen = 8 + 8 * n + pad8(metaLen);
  if (headerLen > total) {
    throw new PsError(
      PsErrorCode.FRAME_TRUNCATED,
      `frame of ${total} bytes is shorter than its ${headerLen}-byte header`,
    );
  }
  const hdr = head.byteLength >= headerLen ? head : concatParts(parts);
  const segs: { ctor: SegmentCtor; len: number; off: number }[] = [];
  let off = headerLen;
  for (let i = 0; i < n; i++) {
    const code = readU32(hdr, 8 + 8 * i);
    const len = readU32(hdr, 12 + 8 * i);
    const ctor = DTYPES[code];
    if (ctor === undefined) {
      throw new PsError(PsErrorCode.FRAME_MALFORMED, `segment ${i} has unknown dtype code ${code}`);
    }
    if (len % ctor.BYTES_PER_ELEMENT !== 0) {
      throw new PsError(
        PsErrorCode.FRAME_MALFORMED,
        `segment ${i} of ${len} bytes is not a whole number of ${ctor.name} elements`,
      );
    }
    segs.push({ ctor, len, off });
    off += pad8(len);
  }
  if (off > total) {
    throw new PsError(
      PsErrorCode.FRAME_TRUNCATED,
      `frame of ${total} bytes is shorter than the ${off} bytes its header announces`,
    );
  }
  if (off < total) {
    throw new PsError(PsErrorCode.FRAME_MALFORMED, `frame has ${total - off} bytes after its last segment`);
  }
  const metaBytes = hdr.subarray(8 + 8 * n, 8 + 8 * n + metaLen);
  if (metaBytes[0] === DATA_META_MARKER) {
    return { meta: readDataMeta(metaBytes), data: segments(parts, segs) };
  }
  let meta: unknown;
  try {
    meta = decoder.decode(metaBytes);
  } catch (cause) {
    throw new PsError(
      PsErrorCode.FRAME_MALFORMED,
      `frame meta is not valid msgpack: ${(cause as Error).message}`,
      undefined,
      {
        cause,
      },
    );
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new PsError(PsErrorCode.FRAME_MALFORMED, 'frame meta is not a map');
  }
  return { meta: meta as Meta, data: segments(parts, segs) };
}

function segments(
  parts: readonly Uint8Array[],
  segs: readonly { ctor: SegmentCtor; len: number; off: number }[],
): Segment[] {
  const data: Segment[] = [];
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    data.push(sliceSegment(parts, s.ctor, s.off, s.len));
  }
  return data;
}

function sliceSegment(parts: readonly Uint8Array[], ctor: SegmentCtor, off: number, len: number): Segment {
  const count = len / ctor.BYTES_PER_ELEMENT;
  let base = 0;
  for (const p of parts) {
    if (off >= base && off + len <= base + p.byteLength) {
      const at = p.byteOffset + (off - base);
      if (at % ctor.BYTES_PER_ELEMENT === 0) return new ctor(p.buffer as ArrayBuffer, at, count);
      // Unaligned: copy to an 8-aligned address (a piece of a slab for small segments: see
      // slabBytes; not p.slice(), which on a Node Buffer is a view).
      const copy = slabBytes(len);
      copy.set(p.subarray(off - base, off - base + len));
      return new ctor(copy.buffer as ArrayBuffer, copy.byteOffset, count);
    }
    base += p.byteLength;
  }
  // The segment spans parts: gather it into a fresh, aligned buffer (overwritten in full).
  const out = slabBytes(len);
  let o = 0;
  base = 0;
  for (const p of parts) {
    const from = Math.max(off, base);
    const to = Math.min(off + len, base + p.byteLength);
    if (to > from) {
      out.set(p.subarray(from - base, to - base), o);
      o += to - from;
    }
    base += p.byteLength;
  }
  return new ctor(out.buffer as ArrayBuffer, out.byteOffset, count);
}
