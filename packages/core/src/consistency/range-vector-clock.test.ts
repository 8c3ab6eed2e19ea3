import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEY_SPACE_END } from '../wire/key-range.js';
import { RangeVectorClock } from './range-vector-clock.js';

/**
 * The reference model: 64 slots, slot x standing for the keys [x * 2^58, (x + 1) * 2^58), so
 * small ranges [b, e) with 0 <= b < e <= 64 scale to ranges of the whole 64-bit key space.
 */
const SLOTS = 64;
const SHIFT = 58n;
const scale = (x: number): bigint => BigInt(x) << SHIFT;
const toRange = (b: number, e: number) => ({ begin: scale(b), end: scale(e) });

const op = fc
  .record({
    a: fc.integer({ min: 0, max: SLOTS }),
    b: fc.integer({ min: 0, max: SLOTS }),
    t: fc.integer({ min: 0, max: 5 }),
    advance: fc.boolean(),
  })
  .filter((o) => o.a !== o.b)
  .map((o) => ({ begin: Math.min(o.a, o.b), end: Math.max(o.a, o.b), t: o.t, advance: o.advance }));

function expectCanonical(clock: RangeVectorClock): void {
  const segs = clock.segments();
  expect(segs.length).toBe(clock.size);
  expect(segs[0]!.begin).toBe(0n);
  expect(segs[segs.length - 1]!.end).toBe(KEY_SPACE_END);
  for (let i = 0; i < segs.length; i++) {
    expect(segs[i]!.begin < segs[i]!.end).toBe(true);
    if (i > 0) {
      expect(segs[i]!.begin).toBe(segs[i - 1]!.end);
      expect(segs[i]!.time).not.toBe(segs[i - 1]!.time);
    }
  }
}

describe('RangeVectorClock', () => {
  it('starts as one segment at time 0 (or the given time)', () => {
    expect(new RangeVectorClock().segments()).toEqual([{ begin: 0n, end: KEY_SPACE_END, time: 0 }]);
    const c = new RangeVectorClock(7);
    expect(c.get(0n)).toBe(7);
    expect(c.get(KEY_SPACE_END - 1n)).toBe(7);
    expect(c.min({ begin: 0n, end: KEY_SPACE_END })).toBe(7);
  });

  it('agrees with a per-key reference after random set/advance sequences (property)', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 40 }),
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: SLOTS - 1 }), fc.bigInt({ min: 0n, max: (1n << SHIFT) - 1n })),
          {
            maxLength: 10,
          },
        ),
        (ops, probes) => {
          const clock = new RangeVectorClock();
          const ref = new Array<number>(SLOTS).fill(0);
          for (const o of ops) {
            const before = clock.size;
            if (o.advance) {
              clock.advance(toRange(o.begin, o.end), o.t);
              for (let x = o.begin; x < o.end; x++) ref[x] = Math.max(ref[x]!, o.t);
            } else {
              clock.set(toRange(o.begin, o.end), o.t);
              for (let x = o.begin; x < o.end; x++) ref[x] = o.t;
            }
            expect(clock.size).toBeLessThanOrEqual(before + 2);
            expectCanonical(clock);
          }
          // Segment count equals the number of runs of the reference: the clock is O(ranges) and canonical.
          let runs = 1;
          for (let x = 1; x < SLOTS; x++) if (ref[x] !== ref[x - 1]) runs++;
          expect(clock.size).toBe(runs);
          for (let x = 0; x < SLOTS; x++) {
            expect(clock.get(scale(x))).toBe(ref[x]);
            expect(clock.get(scale(x + 1) - 1n)).toBe(ref[x]);
          }
          for (const [x, off] of probes) expect(clock.get(scale(x) + off)).toBe(ref[x]);
          for (let b = 0; b < SLOTS; b += 3) {
            for (let e = b + 1; e <= SLOTS; e += 5) {
              const inside = ref.slice(b, e);
              expect(clock.min(toRange(b, e))).toBe(Math.min(...inside));
              expect(clock.max(toRange(b, e))).toBe(Math.max(...inside));
            }
          }
          const copy = RangeVectorClock.fromSegments(clock.segments());
          expect(copy.segments()).toEqual(clock.segments());
          const clone = clock.clone();
          clone.set({ begin: 0n, end: KEY_SPACE_END }, 99);
          expect(clock.get(0n)).toBe(ref[0]);
        },
      ),
    );
  });

  it('splits at most two segments on a set inside one segment', () => {
    const c = new RangeVectorClock();
    c.set({ begin: 10n, end: 20n }, 3);
    expect(c.segments()).toEqual([
      { begin: 0n, end: 10n, time: 0 },
      { begin: 10n, end: 20n, time: 3 },
      { begin: 20n, end: KEY_SPACE_END, time: 0 },
    ]);
    c.set({ begin: 15n, end: KEY_SPACE_END }, 3);
    expect(c.segments()).toEqual([
      { begin: 0n, end: 10n, time: 0 },
      { begin: 10n, end: KEY_SPACE_END, time: 3 },
    ]);
    expect(c.min({ begin: 5n, end: 11n })).toBe(0);
    expect(c.max({ begin: 5n, end: 11n })).toBe(3);
    expect(c.min({ begin: 10n, end: 11n })).toBe(3);
    c.set({ begin: 5n, end: 5n }, 9); // empty: no change
    expect(c.size).toBe(2);
  });

  it('rejects bad ranges, keys and times', () => {
    const c = new RangeVectorClock();
    expect(() => c.set({ begin: 2n, end: 1n }, 1)).toThrow(RangeError);
    expect(() => c.set({ begin: 0n, end: KEY_SPACE_END + 1n }, 1)).toThrow(RangeError);
    expect(() => c.set({ begin: -1n, end: 1n }, 1)).toThrow(RangeError);
    expect(() => c.set({ begin: 0n, end: 1n }, Number.NaN)).toThrow(RangeError);
    expect(() => c.min({ begin: 1n, end: 1n })).toThrow(RangeError);
    expect(() => c.get(KEY_SPACE_END)).toThrow(RangeError);
    expect(() => RangeVectorClock.fromSegments([{ begin: 0n, end: 5n, time: 0 }])).toThrow(RangeError);
    expect(() => RangeVectorClock.fromSegments([])).toThrow(RangeError);
  });
});
