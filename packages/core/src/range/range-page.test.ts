// The worker side of a range pull, end to end without a network: a range sliced by a real ring
// of 3 servers (32 virtual servers each), each server's part answered from its own table within a
// key limit and a byte budget, the answers joined by assemblePage; paging from `next` must give
// every stored key of the range exactly once, in order, with its values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sumHandler } from '../handlers/sum-handler.js';
import { Ring } from '../membership/ring.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import { answerRange } from './range-answer.js';
import { assemblePage, type RangePart } from './range-page.js';
import { joinRanges, sliceRanges } from './range-slices.js';

const MAX = 2n ** 64n - 1n;
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const ring = Ring.create(['server-a', 'server-b', 'server-c']);

/** Three tables holding the keys their server owns, value of key k: k mod 1000 (and + 0.5 for a second value). */
function tables(keys: bigint[]) {
  const hs = new Map(ring.servers.map((s) => [s, sumHandler({ dtype: 'float64', initialCapacity: 4 })]));
  for (const [owner, parts] of sliceRanges(ring, [{ begin: 0n, end: KEY_SPACE_END }])) {
    const mine = keys.filter((k) => parts.some((r) => k >= r.begin && k < r.end)).sort(cmp);
    const ks = BigUint64Array.from(mine);
    const vals = Float64Array.from(
      { length: 2 * ks.length },
      (_, j) => Number(ks[j >> 1]! % 1000n) + (j & 1) / 2,
    );
    hs.get(owner)!({ sender: 'w', app: 0, ts: 0, push: true, pull: false, kv: { keys: ks, vals } });
  }
  return hs;
}

describe('sliceRanges, answerRange and assemblePage on a 3-server ring', () => {
  it('pages through any range exactly, in key order, whatever the limit and byte budget (property)', () => {
    const key = fc.oneof(fc.bigInt({ min: 0n, max: MAX }), fc.bigInt({ min: 0n, max: 1000n }));
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { maxLength: 200, comparator: (a, b) => a === b }),
        fc.tuple(fc.oneof(key, fc.constant(0n)), fc.oneof(key, fc.constant(KEY_SPACE_END))),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 28, max: 2000 }),
        (keys, [x, y], limit, maxBytes) => {
          const [begin, end] = x <= y ? [x, y] : [y, x];
          const hs = tables(keys);
          const want = keys.filter((k) => k >= begin && k < end).sort(cmp);
          const got: bigint[] = [];
          const vals: number[] = [];
          let from: bigint | undefined = begin;
          for (let page = 0; from !== undefined; page++) {
            expect(page).toBeLessThanOrEqual(want.length);
            const parts: RangePart[] = [];
            for (const [owner, ranges] of sliceRanges(ring, [{ begin: from, end }])) {
              const req = { ranges, limit, maxBytes, paged: true };
              parts.push({ ranges, answer: answerRange(hs.get(owner)!, req) });
            }
            const p = assemblePage(parts, limit);
            expect(p.keys.length).toBeLessThanOrEqual(limit);
            if (p.next !== undefined) expect(p.keys.length).toBeGreaterThan(0);
            expect(p.lens).toBeUndefined();
            got.push(...p.keys);
            vals.push(...p.vals);
            from = p.next;
          }
          expect(got).toEqual(want);
          expect(vals).toEqual(want.flatMap((k) => [Number(k % 1000n), Number(k % 1000n) + 0.5]));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('slices a range into each owner’s parts, which together are the range', () => {
    const range: KeyRange = { begin: 12345n, end: 2n ** 63n + 99n };
    const sliced = sliceRanges(ring, [range]);
    expect([...sliced.keys()].sort()).toEqual([...ring.servers].sort());
    for (const [owner, parts] of sliced) {
      for (const r of parts) {
        expect(ring.ownerOf(r.begin)).toBe(owner);
        expect(ring.ownerOf(r.end - 1n)).toBe(owner);
      }
    }
    expect(joinRanges([...sliced.values()].flat())).toEqual([range]);
    expect(sliceRanges(ring, [{ begin: 7n, end: 7n }]).size).toBe(0);
  });
});
