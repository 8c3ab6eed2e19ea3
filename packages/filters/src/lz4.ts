import { type Filter, type FilterContext, type Message, PsError, PsErrorCode, type Segment } from '@ps/core';
import { compress, decompress } from 'lz4-wasm-nodejs';
import { filterMetaOf, withFilterMeta, withoutFilterMeta } from './filter-meta.js';
import { SEGMENT_DTYPES, segmentAsBytes, segmentDtypeCode, segmentFromBytes } from './segment-dtype.js';

/**
 * An LZ4 block codec with the length of the original prepended as a 32-bit little-endian integer
 * (`[u32 LE n, LZ4 block]`): the format of `lz4-wasm` and `lz4-wasm-nodejs` (lz4_flex's
 * `compress_prepend_size` / `decompress_size_prepended`). `decompress` throws on malformed input.
 */
export interface Lz4BlockCodec {
  compress(input: Uint8Array): Uint8Array;
  decompress(input: Uint8Array): Uint8Array;
}

/** Options of {@link lz4}. */
export interface Lz4Options {
  /** Segments shorter than this many bytes travel as they are (default 1024). */
  minBytes?: number;
  /**
   * The codec (default: `lz4-wasm-nodejs`, the Node build of lz4-wasm). In a browser, pass
   * `lz4-wasm`'s `{ compress, decompress }`: both builds share one wasm binary, so their output
   * is the same bytes.
   */
  codec?: Lz4BlockCodec;
}

/**
 * What {@link lz4} records under `meta.filters.lz4`: one entry per data segment, `null` for a
 * segment that travels as it was, `[dtypeCode, byteLength]` for one replaced by its compressed
 * bytes (a Uint8Array). Dtype codes are the frame codec's: 0 Uint8Array, 1 Int32Array,
 * 2 Uint32Array, 3 Float32Array, 4 Float64Array, 5 BigUint64Array. Absent when no segment was
 * compressed.
 */
export type Lz4Meta = ([dtypeCode: number, byteLength: number] | null)[];

const NAME = 'lz4';
const NODE_CODEC: Lz4BlockCodec = { compress, decompress };
/** LZ4 expands at most 255 output bytes per input byte; anything claiming more is malformed. */
const MAX_RATIO = 255;

/**
 * The LZ4 filter (DESIGN.md, "Filters"): lossless compression of every data segment (keys, vals,
 * lens, or the codes of an earlier filter) of at least `minBytes` bytes with the LZ4 block format
 * (`lz4-wasm-nodejs`, lz4_flex compiled to wasm; the 4-byte original length is prepended). A
 * segment whose compressed form is not smaller travels as it was, so the filter never grows a
 * segment; dense random floats do not compress, sparse or quantized values do. What was done is
 * recorded per segment in `meta.filters.lz4` ({@link Lz4Meta}), and decode restores each segment's
 * exact dtype and bytes. `minBytes` is the sender's choice only, so the signature is just `lz4`.
 *
 * Throughput: one copy into and one out of wasm memory per segment on each side, plus LZ4 itself
 * (hundreds of MB/s compressing, more decompressing). The wasm memory grows to the largest
 * segment seen and stays that size.
 *
 * @throws PsError `PS_ERR_CONFIG` when `minBytes` is not a non-negative number.
 * @throws PsError (decode) `PS_ERR_MESSAGE_INVALID` when `meta.filters.lz4` is not an
 *   {@link Lz4Meta} for the message's segments; `PS_ERR_FRAME_MALFORMED` when a compressed segment
 *   is not a Uint8Array, does not decompress, or does not decompress to the recorded length.
 *
 * @example
 * ```ts
 * const f = lz4({ minBytes: 4096 });
 * const wire = f.encode(msg, { peer: 'server-1' }); // big segments become Uint8Array blocks
 * const back = f.decode(wire, { peer: 'worker-1' }); // bytes and dtypes as in msg
 * ```
 */
export function lz4(opts: Lz4Options = {}): Filter {
  const { minBytes = 1024, codec = NODE_CODEC } = opts;
  if (typeof minBytes !== 'number' || !(minBytes >= 0)) {
    throw new PsError(PsErrorCode.CONFIG, `lz4: minBytes must be a number >= 0, got ${String(minBytes)}`);
  }
  return {
    name: NAME,
    signature: NAME,
    lossless: true,
    stats: { messages: 0, bytesIn: 0, bytesOut: 0 },
    encode(msg: Message, _ctx: FilterContext): Message {
      let entries: Lz4Meta | undefined;
      let data: Segment[] | undefined;
      for (let i = 0; i < msg.data.length; i++) {
        const seg = msg.data[i]!;
        if (seg.byteLength === 0 || seg.byteLength < minBytes) continue;
        const packed = codec.compress(segmentAsBytes(seg));
        if (packed.byteLength >= seg.byteLength) continue;
        entries ??= msg.data.map(() => null);
        data ??= msg.data.slice();
        entries[i] = [segmentDtypeCode(seg), seg.byteLength];
        data[i] = packed;
      }
      return entries === undefined || data === undefined ? msg : withFilterMeta(msg, NAME, entries, data);
    },
    decode(msg: Message, _ctx: FilterContext): Message {
      const raw = filterMetaOf(msg, NAME);
      if (raw === undefined) return msg;
      const entries = parseMeta(raw, msg.data.length);
      const data = msg.data.slice();
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        if (e === null || e === undefined) continue;
        data[i] = unpack(codec, msg.data[i]!, e[0], e[1], i);
      }
      return withoutFilterMeta(msg, NAME, data);
    },
  };
}

function unpack(codec: Lz4BlockCodec, seg: Segment, code: number, byteLength: number, i: number): Segment {
  const malformed = (why: string, cause?: unknown): PsError =>
    new PsError(
      PsErrorCode.FRAME_MALFORMED,
      `lz4: segment ${i} ${why}`,
      { segment: i },
      cause === undefined ? undefined : { cause },
    );
  if (!(seg instanceof Uint8Array))
    throw malformed(`should be a compressed Uint8Array, got a ${seg.constructor.name}`);
  // Check the prepended length before handing the bytes to wasm: a huge claimed length would make
  // it try to allocate that much (and trap).
  if (seg.byteLength < 5) throw malformed(`of ${seg.byteLength} bytes is too short for an LZ4 block`);
  const claimed = new DataView(seg.buffer, seg.byteOffset, 4).getUint32(0, true);
  if (claimed !== byteLength) {
    throw malformed(`announces ${claimed} bytes, but meta.filters.lz4 records ${byteLength}`);
  }
  if (byteLength > MAX_RATIO * seg.byteLength) {
    throw malformed(`of ${seg.byteLength} bytes cannot decompress to ${byteLength} bytes`);
  }
  let out: Uint8Array;
  try {
    out = codec.decompress(seg);
  } catch (cause) {
    // lz4-wasm throws a string for malformed blocks and a RuntimeError when wasm traps.
    throw malformed(
      `is not a valid LZ4 block: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    );
  }
  if (out.byteLength !== byteLength) {
    throw malformed(`decompressed to ${out.byteLength} bytes, expected ${byteLength}`);
  }
  return segmentFromBytes(code, out);
}

/** Validates `meta.filters.lz4` of a received message. */
function parseMeta(raw: unknown, segments: number): Lz4Meta {
  const bad = (why: string): PsError =>
    new PsError(PsErrorCode.MESSAGE_INVALID, `lz4: meta.filters.lz4 is invalid: ${why}`);
  if (!Array.isArray(raw)) throw bad('not an array');
  if (raw.length !== segments) throw bad(`${raw.length} entries for ${segments} segments`);
  for (let i = 0; i < raw.length; i++) {
    const e: unknown = raw[i];
    if (e === null) continue;
    if (!Array.isArray(e) || e.length !== 2)
      throw bad(`entry ${i} is neither null nor [dtypeCode, byteLength]`);
    const [code, len] = e as unknown[];
    const ctor = typeof code === 'number' && Number.isInteger(code) ? SEGMENT_DTYPES[code] : undefined;
    if (ctor === undefined) throw bad(`entry ${i} has unknown dtype code ${String(code)}`);
    if (typeof len !== 'number' || !Number.isInteger(len) || len <= 0 || len % ctor.BYTES_PER_ELEMENT !== 0) {
      throw bad(`entry ${i}: ${String(len)} bytes is not a positive whole number of ${ctor.name} elements`);
    }
  }
  return raw as Lz4Meta;
}
