// The WebAssembly SIMD add kernel against the plain typed-array loops: a sum table whose slab 0
// lives in a Float32Arena gives exactly the answers of one that does not, across table growth
// (the memory grows in place), long and short runs, pushPull's fused pass and the scalar tail.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sumHandler } from '../handlers/sum-handler.js';
import type { KVRequest } from '../kv-server.js';
import { KEY_SPACE_END } from '../wire/key-range.js';
import { Float32Arena } from './float32-arena.js';

const req = (keys: BigUint64Array, vals: Float32Array, push: boolean, pull: boolean): KVRequest => ({
  sender: 'w',
  app: 0,
  ts: 0,
  push,
  pull,
  kv: { keys, vals },
});
const everything = [{ begin: 0n, end: KEY_SPACE_END }];
/** Index of the first value that differs (lengths included), or -1: cheaper than a deep equal of 40,000 floats. */
const firstDifference = (a: Float32Array, b: Float32Array): number => {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
};

describe('Float32Arena (WebAssembly SIMD sum)', () => {
  it('keeps slab 0 of a float32 sum table in WebAssembly memory, and not with simd: false', () => {
    expect(Float32Arena.of(sumHandler().table.slabs[0] as Float32Array)).toBeDefined();
    expect(Float32Arena.of(sumHandler({ simd: false }).table.slabs[0] as Float32Array)).toBeUndefined();
    expect(sumHandler({ dtype: 'float64' }).table.slabs[0]).toBeInstanceOf(Float64Array);
  });

  it('adds exactly as the typed-array loop does, across growth and run lengths (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            start: fc.integer({ min: 0, max: 6000 }),
            len: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 250, max: 3000 })),
            width: fc.constantFrom(1, 1, 3),
            pull: fc.boolean(),
            seed: fc.integer({ min: -1000, max: 1000 }),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        fc.boolean(),
        (ops, dense) => {
          const denseRange = dense ? { count: 4096 } : undefined;
          const simd = sumHandler({ initialCapacity: 4, denseRange });
          const plain = sumHandler({ initialCapacity: 4, denseRange, simd: false });
          for (const op of ops) {
            // One width per table: the first op's.
            const width = ops[0]!.width;
            const keys = BigUint64Array.from({ length: op.len }, (_, i) => BigInt(op.start + i));
            const vals = Float32Array.from(
              { length: op.len * width },
              (_, i) => ((op.seed * 7 + i) % 97) / 8,
            );
            for (let round = 0; round < 2; round++) {
              const a = simd(req(keys, vals, true, op.pull));
              const b = plain(req(keys, vals, true, op.pull));
              expect(a?.vals).toEqual(b?.vals);
            }
          }
          const a = simd.table.exportRanges(everything);
          const b = plain.table.exportRanges(everything);
          expect(a.keys).toEqual(b.keys);
          expect(a.slabs[0]).toEqual(b.slabs[0]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers a pushPull of 100,000 keys with the sums, twice', () => {
    const h = sumHandler({ initialCapacity: 1 << 17 });
    const n = 100_000;
    const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
    const vals = Float32Array.from({ length: n }, (_, i) => i % 5);
    h(req(keys, vals, true, true));
    const out = h(req(keys, vals, true, true))!;
    expect(out.vals).toEqual(Float32Array.from({ length: n }, (_, i) => 2 * (i % 5)));
  });

  it('addRun adds and copies out exactly as a plain loop, across chunk boundaries and growth (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            off: fc.integer({ min: 0, max: 40_000 }),
            // Runs shorter than, equal to and longer than one chunk (16,384 values), with tails.
            len: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 16_380, max: 40_000 })),
            out: fc.boolean(),
            seed: fc.integer({ min: 0, max: 1000 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (ops) => {
          const arena = Float32Arena.create(1024);
          expect(arena).toBeDefined();
          if (!arena) return;
          let plain = new Float32Array(1024);
          for (const op of ops) {
            const had = arena.slab.length;
            const cap = Math.max(had, op.off + op.len);
            arena.reserve(cap);
            arena.slab.fill(0, had); // what reserve adds is not zeroed (a table zeroes it, as here)
            if (plain.length < cap) {
              const grown = new Float32Array(cap);
              grown.set(plain);
              plain = grown;
            }
            const vals = Float32Array.from({ length: op.len }, (_, i) => ((op.seed + i * 13) % 101) / 4 - 12);
            const out = op.out ? new Float32Array(op.len).fill(Number.NaN) : undefined;
            expect(arena.addRun(op.off, op.len, vals, out)).toBe(true);
            for (let j = 0; j < op.len; j++) plain[op.off + j]! += vals[j]!;
            if (out) expect(firstDifference(out, plain.subarray(op.off, op.off + op.len))).toBe(-1);
            expect(firstDifference(arena.slab, plain.subarray(0, arena.slab.length))).toBe(-1);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
