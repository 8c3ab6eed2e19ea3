/**
 * Test helpers of this package (used by its `*.test.ts` only; not exported from the index): data
 * messages of every layout as fast-check arbitraries, deep copies, and byte-exact comparison.
 */
import type { Message, Meta, Segment } from '@ps/core';
import { seededRandom } from '@ps/core';
import fc from 'fast-check';

/** The data-message layouts of the filter contract. */
export const LAYOUTS = [
  'push', // request with push: [keys, vals]
  'push-lens', // request with push: [keys, vals, lens]
  'push-pull', // request with push and pull: [keys, vals]
  'pull', // request, pull only: [keys]
  'pull-response', // response to a pull: [vals]
  'pull-response-lens', // response to a pull: [vals, lens]
  'push-response', // response to a pure push: []
] as const;
export type Layout = (typeof LAYOUTS)[number];

/** How the values of a generated message look. */
export const PATTERNS = ['dense', 'sparse', 'constant', 'zeros', 'positive', 'negative', 'steps'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface MessageSpec {
  layout: Layout;
  dtype: 'f32' | 'f64';
  /** Number of keys. */
  keys: number;
  /** Values per key. */
  width: number;
  pattern: Pattern;
  /** Magnitude of the values. */
  scale: number;
  seed: number;
}

/** Index of the value segment of a layout, or -1. */
export function valueIndex(layout: Layout): number {
  if (layout === 'push' || layout === 'push-lens' || layout === 'push-pull') return 1;
  if (layout === 'pull-response' || layout === 'pull-response-lens') return 0;
  return -1;
}

/** Fills `out` with values of a pattern, from a seeded generator. */
export function fillValues(
  out: Float32Array | Float64Array,
  pattern: Pattern,
  scale: number,
  seed: number,
): void {
  const rnd = seededRandom(seed);
  const c = (rnd() * 2 - 1) * scale;
  for (let i = 0; i < out.length; i++) {
    const r = (rnd() * 2 - 1) * scale;
    switch (pattern) {
      case 'dense':
        out[i] = r;
        break;
      case 'sparse':
        out[i] = rnd() < 0.05 ? r : 0;
        break;
      case 'constant':
        out[i] = c;
        break;
      case 'zeros':
        out[i] = 0;
        break;
      case 'positive':
        out[i] = Math.abs(r);
        break;
      case 'negative':
        out[i] = -Math.abs(r);
        break;
      case 'steps':
        out[i] = Math.round(r / scale) * scale; // -scale, 0 or scale
        break;
    }
  }
}

/** Builds the message a spec describes. */
export function buildMessage(s: MessageSpec): Message {
  const rnd = seededRandom(s.seed ^ 0x5bd1e995);
  const keys = new BigUint64Array(s.keys);
  let k = 0n;
  for (let i = 0; i < s.keys; i++) {
    k += 1n + BigInt(Math.floor(rnd() * 1000));
    keys[i] = k;
  }
  const lens = new Int32Array(s.keys);
  let total = 0;
  const varying = s.layout === 'push-lens' || s.layout === 'pull-response-lens';
  for (let i = 0; i < s.keys; i++) {
    lens[i] = varying ? Math.floor(rnd() * (2 * s.width + 1)) : s.width;
    total += lens[i]!;
  }
  const vals = s.dtype === 'f32' ? new Float32Array(total) : new Float64Array(total);
  fillValues(vals, s.pattern, s.scale, s.seed);
  const base = { sender: 'w-1', recipient: 's-1', app: 1, ts: s.seed & 0xffff };
  const meta = (request: boolean, push: boolean, pull: boolean): Meta => ({ ...base, request, push, pull });
  switch (s.layout) {
    case 'push':
      return { meta: meta(true, true, false), data: [keys, vals] };
    case 'push-lens':
      return { meta: meta(true, true, false), data: [keys, vals, lens] };
    case 'push-pull':
      return { meta: meta(true, true, true), data: [keys, vals] };
    case 'pull':
      return { meta: meta(true, false, true), data: [keys] };
    case 'pull-response':
      return { meta: meta(false, false, true), data: [vals] };
    case 'pull-response-lens':
      return { meta: meta(false, false, true), data: [vals, lens] };
    case 'push-response':
      return { meta: meta(false, true, false), data: [] };
  }
}

/** Message specs: every layout and pattern, up to ~4,000 values (past the default lz4 minBytes). */
export const messageSpecArb: fc.Arbitrary<MessageSpec> = fc.record({
  layout: fc.constantFrom(...LAYOUTS),
  dtype: fc.constantFrom('f32' as const, 'f64' as const),
  keys: fc.integer({ min: 0, max: 400 }),
  width: fc.integer({ min: 1, max: 10 }),
  pattern: fc.constantFrom(...PATTERNS),
  scale: fc.constantFrom(1e-6, 1e-3, 1, 1000, 1e6),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
});

/** A deep copy of a message (fresh buffers), to compare against later. */
export function cloneMessage(m: Message): Message {
  return { meta: structuredClone(m.meta), data: m.data.map((s) => s.slice()) };
}

/** The bytes of a segment (a view). */
export function bytesOf(s: Segment): Uint8Array {
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

/** True when two segments have the same type and the same bytes. */
export function sameSegment(a: Segment | undefined, b: Segment | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false;
  const x = bytesOf(a);
  const y = bytesOf(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Why two messages differ (meta as plain data, segments by type and bytes), or '' when they do not. */
export function messageDiff(a: Message, b: Message): string {
  const ma = JSON.stringify(a.meta);
  const mb = JSON.stringify(b.meta);
  if (ma !== mb) return `meta ${ma} != ${mb}`;
  if (a.data.length !== b.data.length) return `${a.data.length} segments != ${b.data.length}`;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    if (!sameSegment(x, y)) {
      return `segment ${i}: ${x.constructor.name}(${x.byteLength} B) != ${y.constructor.name}(${y.byteLength} B) or bytes differ`;
    }
  }
  return '';
}

/**
 * Why decoded values break the fixed-point bound of the docs, or '' when they keep it: |d - x| <
 * (max - min) / (2^bits - 1), or / (2^bits - 2) when the values have both signs, plus the float32
 * rounding of the result; zeros exact; a constant segment exact. Computed from the input only.
 */
export function fixedViolation(
  x: Float32Array | Float64Array,
  d: Float32Array | Float64Array,
  bits: 8 | 16,
): string {
  if (d.constructor !== x.constructor || d.length !== x.length) return 'dtype or length changed';
  let mn = Number.POSITIVE_INFINITY;
  let mx = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    mn = Math.min(mn, v);
    mx = Math.max(mx, v);
  }
  const levels = 2 ** bits - 1;
  const step = (mx - mn) / (mn < 0 && mx > 0 ? levels - 1 : levels);
  const f32 = x instanceof Float32Array;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const di = d[i]!;
    if (xi === 0 && di !== 0) return `zero at ${i} decoded as ${di}`;
    if (mn === mx && di !== xi) return `constant ${xi} decoded as ${di} at ${i}`;
    const slack = (Math.abs(xi) + step) * (f32 ? 2 ** -23 : 2 ** -50) + step * 1e-12;
    if (!(Math.abs(di - xi) <= step + slack)) return `value ${i}: ${xi} decoded as ${di}, step bound ${step}`;
  }
  return '';
}
