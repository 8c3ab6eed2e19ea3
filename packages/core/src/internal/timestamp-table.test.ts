import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimestampTable } from './timestamp-table.js';

/** A Map model's entries in increasing order of key, as `TimestampTable.entries` gives them. */
const sorted = (m: Map<number, string>) => [...m.entries()].sort((a, b) => a[0] - b[0]);

describe('TimestampTable', () => {
  it('gets, replaces and deletes like a Map', () => {
    const t = new TimestampTable<string>();
    expect(t.get(3)).toBeUndefined();
    t.set(3, 'a');
    t.set(19, 'b'); // the same slot of a 16-slot ring: the ring grows
    t.set(3, 'c');
    expect([t.get(3), t.get(19), t.size]).toEqual(['c', 'b', 2]);
    expect(t.delete(3)).toBe(true);
    expect(t.delete(3)).toBe(false);
    expect([t.has(3), t.has(19), t.size]).toEqual([false, true, 1]);
  });

  it('keeps one old entry among the outliers instead of growing with the span of timestamps', () => {
    const t = new TimestampTable<number>();
    t.set(0, 0); // held while a million later requests come and go, eight at a time
    for (let ts = 1; ts <= 1_000_000; ts++) {
      t.set(ts, ts);
      if (ts > 8) t.delete(ts - 8);
    }
    expect(t.size).toBe(9);
    expect(t.keys()).toEqual([0, 999_993, 999_994, 999_995, 999_996, 999_997, 999_998, 999_999, 1_000_000]);
    // The ring is sized by the entries (at most 4 slots each, and 16 at least), not by the span.
    expect((t as unknown as { ts: Float64Array }).ts.length).toBeLessThanOrEqual(64);
    expect(t.get(0)).toBe(0);
    expect(t.delete(0)).toBe(true);
    expect(t.get(0)).toBeUndefined();
  });

  it('takes timestamps past 2^32 (the slot is the timestamp modulo the ring)', () => {
    const t = new TimestampTable<string>();
    const big = 2 ** 40 + 5;
    t.set(big, 'x');
    t.set(5, 'y');
    t.set(Number.MAX_SAFE_INTEGER, 'z');
    expect([t.get(big), t.get(5), t.get(Number.MAX_SAFE_INTEGER)]).toEqual(['x', 'y', 'z']);
    expect(t.keys()).toEqual([5, big, Number.MAX_SAFE_INTEGER]);
  });

  it('refuses timestamps that are not non-negative safe integers', () => {
    const t = new TimestampTable<string>();
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => t.set(bad, 'v')).toThrow(RangeError);
  });

  it('clear empties it', () => {
    const t = new TimestampTable<string>();
    for (let i = 0; i < 100; i += 7) t.set(i, String(i));
    t.clear();
    expect([t.size, t.keys(), t.get(7)]).toEqual([0, [], undefined]);
    t.set(7, 'again');
    expect(t.entries()).toEqual([[7, 'again']]);
  });

  it('matches a Map under any sequence of sets and deletes (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), ts: fc.nat(300), v: fc.string({ maxLength: 3 }) }),
      fc.record({ kind: fc.constant('delete' as const), ts: fc.nat(300) }),
      // Far timestamps: the outliers and collisions of a sparse ring.
      fc.record({
        kind: fc.constant('set' as const),
        ts: fc.integer({ min: 0, max: 2 ** 45 }),
        v: fc.string(),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new TimestampTable<string>();
        const m = new Map<number, string>();
        for (const o of ops) {
          if (o.kind === 'set') {
            t.set(o.ts, o.v);
            m.set(o.ts, o.v);
          } else expect(t.delete(o.ts)).toBe(m.delete(o.ts));
          expect(t.size).toBe(m.size);
        }
        expect(t.entries()).toEqual(sorted(m));
        for (const k of m.keys()) expect(t.get(k)).toBe(m.get(k));
      }),
      { numRuns: 300 },
    );
  });
});
