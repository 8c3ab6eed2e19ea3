import { type Filter, type FilterContext, type Message, PsError, PsErrorCode } from '@ps/core';
import { filterMetaOf, withFilterMeta, withoutFilterMeta } from './filter-meta.js';

/** Options of {@link quantize}. */
export interface QuantizeOptions {
  /**
   * Bits per value: 8 or 16 in `fixed` mode; must be 16 in `bf16` mode. Both ends of a
   * connection must use the same value (it is part of the signature).
   */
  bits: 8 | 16;
  /**
   * `fixed` (default): fixed-point codes on a per-message [min, max] grid with stochastic
   * rounding (unbiased). `bf16`: the high 16 bits of each float32, rounded to nearest even.
   */
  mode?: 'fixed' | 'bf16';
  /**
   * Seed of the stochastic-rounding generator (mulberry32), for reproducible tests. Local to the
   * sender: not part of the signature. Default: a random seed.
   */
  seed?: number;
}

/**
 * What {@link quantize} records under `meta.filters.quantize` (msgpack-encodable: numbers and
 * strings only). Absent when the filter left the message as it was.
 */
export type QuantizeMeta =
  | {
      /** Index of the value segment that was quantized. */
      seg: number;
      /** Dtype of the original values. */
      dtype: 'f32' | 'f64';
      codec: 'fixed8' | 'fixed16';
      /** Number of values. */
      n: number;
      /** Smallest and largest original value. */
      min: number;
      max: number;
      /** Grid: code `q` decodes to `lo + (q - z) * step`. */
      lo: number;
      step: number;
      z: number;
    }
  | { seg: number; dtype: 'f32' | 'f64'; codec: 'bf16'; n: number };

const NAME = 'quantize';

/**
 * The quantization filter (OSDI 2014, section 4.2; the original code's fixing-float filter): it
 * shrinks the value segment of a data message, the `vals` of a request with push (segment 1) or
 * of a response to a pull (segment 0); keys and lens are never touched. Lossy.
 *
 * **`fixed` mode** (`bits` 8 or 16): a Float32Array or Float64Array of n values becomes a
 * Uint8Array of n codes (8 bits) or of 2n bytes holding n little-endian 16-bit codes (16 bits:
 * Uint16Array is not a segment type, so the codes travel as their bytes; `@ps` already assumes a
 * little-endian host for every segment). The codes index a uniform grid over the message's
 * [min, max], recorded with the original dtype in `meta.filters.quantize` ({@link QuantizeMeta}).
 * Each value is rounded to one of its two neighbouring grid points at random, up with probability
 * equal to its distance from the lower one, so the decoded value is unbiased: E[decoded] = x (up
 * to the float rounding of the result). The generator is mulberry32, kept by the filter across
 * messages and seedable.
 *
 * Zero is exact: when min < 0 < max, the grid is shifted so that 0 is a grid point (code `z`, and
 * code `q` decodes to `(q - z) * step`), so zeros, which sparse updates are full of, decode to 0
 * with no noise. This costs at most one grid step of range: `step <= (max - min) / (2^bits - 2)`
 * instead of `/(2^bits - 1)`. When min >= 0 or max <= 0, min or max is itself a grid point, so 0,
 * when present, is exact too. A constant segment (min == max) decodes exactly. `-0` decodes as `0`.
 *
 * Error bound per value (fixed): `|decoded - x| < step`, with `step = (max - min) / (2^bits - 1)`
 * when all values have one sign (or are 0), and `step <= (max - min) / (2^bits - 2)` when the
 * segment has values of both signs; a Float32Array result adds its own float32 rounding (half an
 * ulp of the value, relative 2^-24).
 *
 * **`bf16` mode** (`bits: 16`): each float32 keeps its high 16 bits (sign, 8 exponent bits, 7
 * mantissa bits: bfloat16), rounded to nearest even; a float that would round up to infinity is
 * truncated to the largest finite bfloat16 instead. Float64 values are first rounded to float32.
 * Error bound: `|decoded - x| <= 2^-8 * |x|` for normal float32 values, `<= 2^-134` for subnormal
 * ones; float64 input adds the float32 rounding (relative 2^-24). Not stochastic, so biased.
 *
 * **Left as they are**: a value segment holding NaN or +-Infinity (there is no finite range to
 * quantize; the message travels exactly as without the filter, so the filter never hides or
 * invents a non-finite value), a float64 segment whose grid would overflow (max - min or a grid
 * point near or beyond 1.8e308; in `bf16` mode any value beyond the float32 range) or whose range
 * is too small for an invertible grid step (below ~1e-305), an empty one, and any value segment
 * that is not a Float32Array or Float64Array (for example one that an earlier filter already
 * encoded). Nothing is recorded in `meta.filters` for those.
 *
 * Throughput: two passes over the values on typed arrays, no allocation per value; about
 * 1 GB/s of float32 encoding and 1.3-2 GB/s decoding on one core (see the README).
 *
 * @throws PsError `PS_ERR_CONFIG` when created with bits other than 8 or 16, an unknown mode, or
 *   `bf16` with 8 bits.
 * @throws PsError (decode) `PS_ERR_MESSAGE_INVALID` when `meta.filters.quantize` is not a
 *   {@link QuantizeMeta}; `PS_ERR_FRAME_MALFORMED` when the code segment does not match it (type,
 *   length).
 *
 * @example
 * ```ts
 * const chain = [quantize({ bits: 8 }), lz4()];
 * const wire = encodeChain(chain, msg, { peer: 'server-1' });
 * const back = decodeChain(chain, wire, { peer: 'worker-1' }); // vals within one grid step
 * ```
 */
export function quantize(opts: QuantizeOptions): Filter {
  const { bits, mode = 'fixed' } = opts;
  if (bits !== 8 && bits !== 16) {
    throw new PsError(PsErrorCode.CONFIG, `quantize: bits must be 8 or 16, got ${String(bits)}`);
  }
  if (mode !== 'fixed' && mode !== 'bf16') {
    throw new PsError(PsErrorCode.CONFIG, `quantize: mode must be 'fixed' or 'bf16', got ${String(mode)}`);
  }
  if (mode === 'bf16' && bits !== 16) {
    throw new PsError(PsErrorCode.CONFIG, `quantize: mode 'bf16' needs bits: 16, got ${bits}`);
  }
  const rng = { state: (opts.seed ?? Math.floor(Math.random() * 4294967296)) >>> 0 };
  const errorBound =
    mode === 'bf16'
      ? '|decoded - x| <= 2^-8 |x| (bfloat16, round to nearest even); <= 2^-134 for subnormal float32; float64 input adds relative 2^-24'
      : `|decoded - x| < step per value, step = (max - min) / ${2 ** bits - 1} of the message's value segment, at most (max - min) / ${2 ** bits - 2} when it holds values of both signs (0 is kept exact); float32 results add half an ulp`;

  return {
    name: NAME,
    signature: mode === 'bf16' ? `${NAME}:bf16` : `${NAME}:${bits}`,
    lossless: false,
    errorBound,
    stats: { messages: 0, bytesIn: 0, bytesOut: 0 },
    encode(msg: Message, _ctx: FilterContext): Message {
      const i = valueSegmentIndex(msg);
      const vals = i < 0 ? undefined : msg.data[i];
      if (!(vals instanceof Float32Array || vals instanceof Float64Array) || vals.length === 0) return msg;
      const dtype = vals instanceof Float32Array ? 'f32' : 'f64';
      const enc = mode === 'bf16' ? encodeBf16(vals) : encodeFixed(vals, bits, rng);
      if (enc === undefined) return msg;
      const data = msg.data.slice();
      data[i] = enc.codes;
      const meta: QuantizeMeta =
        enc.grid === undefined
          ? { seg: i, dtype, codec: 'bf16', n: vals.length }
          : { seg: i, dtype, codec: bits === 8 ? 'fixed8' : 'fixed16', n: vals.length, ...enc.grid };
      return withFilterMeta(msg, NAME, meta, data);
    },
    decode(msg: Message, _ctx: FilterContext): Message {
      const raw = filterMetaOf(msg, NAME);
      if (raw === undefined) return msg;
      const q = parseMeta(raw, msg.data.length);
      const seg = msg.data[q.seg]!;
      const width = q.codec === 'fixed8' ? 1 : 2;
      if (!(seg instanceof Uint8Array) || seg.byteLength !== q.n * width) {
        throw new PsError(
          PsErrorCode.FRAME_MALFORMED,
          `quantize: segment ${q.seg} should hold ${q.n} ${q.codec} codes (${q.n * width} bytes in a Uint8Array), got ${seg.byteLength} bytes in a ${seg.constructor.name}`,
        );
      }
      const out = q.dtype === 'f32' ? new Float32Array(q.n) : new Float64Array(q.n);
      if (q.codec === 'bf16') decodeBf16(u16View(seg, q.n), out);
      else decodeFixed(q.codec === 'fixed8' ? seg : u16View(seg, q.n), q.lo, q.step, q.z, out);
      const data = msg.data.slice();
      data[q.seg] = out;
      return withoutFilterMeta(msg, NAME, data);
    },
  };
}

/** Index of the value segment of a data message, or -1 when it has none. */
function valueSegmentIndex(msg: Message): number {
  const m = msg.meta;
  if (m.request) return m.push ? 1 : -1;
  return m.pull ? 0 : -1;
}

interface Grid {
  min: number;
  max: number;
  lo: number;
  step: number;
  z: number;
}

/**
 * The grid for values in [mn, mx] with `levels + 1` points: code q decodes to lo + (q - z) * step.
 * Undefined when the range is not usable (overflowing, or a step too small to invert).
 */
function gridFor(mn: number, mx: number, levels: number): Grid | undefined {
  if (mn === mx) return { min: mn, max: mx, lo: mn, step: 0, z: 0 };
  const range = mx - mn;
  if (!Number.isFinite(range)) return undefined;
  let lo = mn;
  let step = range / levels;
  let z = 0;
  if (mn < 0 && mx > 0) {
    // Shift the grid so that 0 is the grid point z (lo = 0): it needs z * step >= -mn and
    // (levels - z) * step >= mx. z = ceil(-mn (levels - 1) / range) always gives
    // step <= range / (levels - 1); floor/ceil of the ideal z = levels * -mn / range often do better.
    lo = 0;
    const share = -mn / range; // in (0, 1); multiplying -mn first could overflow
    const ideal = share * levels;
    const candidates = [Math.ceil(share * (levels - 1)), Math.floor(ideal), Math.ceil(ideal)];
    step = Number.POSITIVE_INFINITY;
    for (let c of candidates) {
      c = Math.min(Math.max(c, 1), levels - 1); // float underflow can push a candidate out
      const s = Math.max(-mn / c, mx / (levels - c));
      if (s < step) {
        step = s;
        z = c;
      }
    }
  } else if (mx === 0) {
    // All values <= 0: the top code is 0 itself (so 0 is exact, not mn + levels * step).
    lo = 0;
    z = levels;
  }
  // Every grid point (and the arithmetic that reaches it) must be finite, and the step invertible.
  if (!(step > 0) || !Number.isFinite(Math.abs(lo) + levels * step) || !Number.isFinite(1 / step)) {
    return undefined;
  }
  return { min: mn, max: mx, lo, step, z };
}

/** Fixed-point codes of `v`, or undefined to leave the segment as it is. */
function encodeFixed(
  v: Float32Array | Float64Array,
  bits: 8 | 16,
  rng: { state: number },
): { codes: Uint8Array; grid: Grid } | undefined {
  const n = v.length;
  let mn = Number.POSITIVE_INFINITY;
  let mx = Number.NEGATIVE_INFINITY;
  let poison = 0; // becomes NaN on any NaN or +-Infinity (x * 0 is NaN only for those)
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    if (x < mn) mn = x;
    if (x > mx) mx = x;
    poison += x * 0;
  }
  if (poison !== 0) return undefined;
  const levels = bits === 8 ? 255 : 65535;
  const grid = gridFor(mn, mx, levels);
  if (grid === undefined) return undefined;
  const bytes = new Uint8Array(n * (bits >> 3));
  const out = bits === 8 ? bytes : new Uint16Array(bytes.buffer, 0, n);
  if (grid.step === 0) return { codes: bytes, grid }; // constant: every code 0 decodes to lo exactly
  // t = (x - lo) / step + z is x's position on the grid; whenever z > 0, lo = 0, so x = 0 gives
  // exactly t = z (and code z decodes to exactly 0). q = floor(t + u) with u uniform in [0, 1) is t rounded up with probability
  // frac(t): E[q] = t. t + u >= -tiny, so `| 0` (truncation) is floor there and maps -tiny to 0.
  const inv = 1 / grid.step;
  const lo = grid.lo;
  const z = grid.z;
  let a = rng.state;
  for (let i = 0; i < n; i++) {
    // mulberry32, inlined (the same generator as @ps/core's seededRandom).
    a = (a + 0x6d2b79f5) | 0;
    let r = Math.imul(a ^ (a >>> 15), a | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    const u = ((r ^ (r >>> 14)) >>> 0) * 2.3283064365386963e-10;
    let q = ((v[i]! - lo) * inv + z + u) | 0;
    if (q > levels) q = levels;
    out[i] = q;
  }
  rng.state = a >>> 0;
  return { codes: bytes, grid };
}

function decodeFixed(
  codes: Uint8Array | Uint16Array,
  lo: number,
  step: number,
  z: number,
  out: Float32Array | Float64Array,
): void {
  const n = out.length;
  // A grid that extends past the data by up to a step can reach beyond the largest finite float
  // (for data near +-3.4e38 in float32): clamp there, which only brings the result closer to x.
  const limit = out instanceof Float32Array ? F32_MAX : Number.MAX_VALUE;
  const codeMax = codes instanceof Uint8Array ? 255 : 65535;
  if (lo - z * step >= -limit && lo + (codeMax - z) * step <= limit) {
    for (let i = 0; i < n; i++) out[i] = lo + (codes[i]! - z) * step;
    return;
  }
  for (let i = 0; i < n; i++) out[i] = Math.min(Math.max(lo + (codes[i]! - z) * step, -limit), limit);
}

/** The largest finite float32. */
const F32_MAX = 3.4028234663852886e38;

/** The 16-bit codes of a Uint8Array of little-endian code bytes (a view when aligned). */
function u16View(seg: Uint8Array, n: number): Uint16Array {
  if (seg.byteOffset % 2 === 0) return new Uint16Array(seg.buffer, seg.byteOffset, n);
  const copy = new Uint8Array(seg.byteLength);
  copy.set(seg);
  return new Uint16Array(copy.buffer, 0, n);
}

/** Exponent bits of a bfloat16: all set means infinity or NaN. */
const BF16_EXP_MASK = 0x7f80;

function encodeBf16(v: Float32Array | Float64Array): { codes: Uint8Array; grid?: undefined } | undefined {
  const n = v.length;
  // Float64 values are first rounded to float32 (a copy); float32 ones are read in place.
  const f32 = v instanceof Float32Array ? v : new Float32Array(v);
  let poison = 0;
  for (let i = 0; i < n; i++) poison += f32[i]! * 0;
  if (poison !== 0) return undefined; // NaN or +-Infinity (including float64 beyond float32 range)
  const bitsIn = new Uint32Array(f32.buffer, f32.byteOffset, n);
  const bytes = new Uint8Array(2 * n);
  const out = new Uint16Array(bytes.buffer, 0, n);
  for (let i = 0; i < n; i++) {
    const b = bitsIn[i]!;
    // Round to nearest, ties to even, on the 16 bits dropped.
    let h = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    // A finite value rounded up to infinity: truncate to the largest finite bfloat16 instead.
    if ((h & BF16_EXP_MASK) === BF16_EXP_MASK) h = b >>> 16;
    out[i] = h;
  }
  return { codes: bytes };
}

function decodeBf16(codes: Uint16Array, out: Float32Array | Float64Array): void {
  const n = out.length;
  const f32 = out instanceof Float32Array ? out : new Float32Array(n);
  const bitsOut = new Uint32Array(f32.buffer, f32.byteOffset, n);
  for (let i = 0; i < n; i++) bitsOut[i] = codes[i]! << 16;
  if (f32 !== out) out.set(f32);
}

/** Validates `meta.filters.quantize` of a received message. */
function parseMeta(raw: unknown, segments: number): QuantizeMeta {
  const bad = (why: string): PsError =>
    new PsError(PsErrorCode.MESSAGE_INVALID, `quantize: meta.filters.quantize is invalid: ${why}`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('not a map');
  const m = raw as Record<string, unknown>;
  const { seg, dtype, codec, n } = m;
  if (typeof seg !== 'number' || !Number.isInteger(seg) || seg < 0 || seg >= segments) {
    throw bad(`seg ${String(seg)} is not a segment index (the message has ${segments})`);
  }
  if (dtype !== 'f32' && dtype !== 'f64') throw bad(`dtype ${String(dtype)} is not f32 or f64`);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw bad(`n ${String(n)} is not a count`);
  if (codec === 'bf16') return { seg, dtype, codec, n };
  if (codec !== 'fixed8' && codec !== 'fixed16') throw bad(`codec ${String(codec)} is unknown`);
  const num = (k: string): number => {
    const x = m[k];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw bad(`${k} ${String(x)} is not a finite number`);
    return x;
  };
  const grid = { min: num('min'), max: num('max'), lo: num('lo'), step: num('step'), z: num('z') };
  if (
    grid.step < 0 ||
    !Number.isInteger(grid.z) ||
    grid.z < 0 ||
    grid.z > (codec === 'fixed8' ? 255 : 65535)
  ) {
    throw bad(`step ${grid.step} or z ${grid.z} is out of range`);
  }
  return { seg, dtype, codec, n, ...grid };
}
