import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evenKeyRanges, KEY_SPACE_END, lowerBound } from './key-range.js';

describe('key ranges', () => {
  it('splits the key space into contiguous ranges covering [0, 2^64)', () => {
    for (const n of [1, 2, 3, 7]) {
      const r = evenKeyRanges(n);
      expect(r[0]!.begin).toBe(0n);
      expect(r[n - 1]!.end).toBe(KEY_SPACE_END);
      for (let i = 1; i < n; i++) expect(r[i]!.begin).toBe(r[i - 1]!.end);
    }
  });

  it('lowerBound agrees with a linear BigInt scan (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 40 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n }),
        (list, bound) => {
          const keys = BigUint64Array.from(list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
          const expected = list.findIndex((k) => k >= bound);
          expect(lowerBound(keys, bound)).toBe(expected < 0 ? list.length : expected);
        },
      ),
    );
  });
});
