import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kktFilter } from './kkt-filter.js';

describe('kktFilter', () => {
  it('drops exactly the keys with zero weight and |gradient| <= λ1, keeping order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0, 0, 0.5, -1), fc.float({ min: -2, max: 2, noNaN: true })), {
          maxLength: 60,
        }),
        fc.constantFrom(0, 0.1, 1),
        (pairs, l1) => {
          const keys = BigUint64Array.from(pairs.map((_, i) => BigInt(i * 3 + 1)));
          const weights = Float32Array.from(pairs.map(([w]) => w));
          const grad = Float32Array.from(pairs.map(([, g]) => g));
          const before = grad.slice();
          const f = kktFilter(l1);
          const out = f.apply(keys, weights, grad);
          const keep = pairs.map((_, i) => !(weights[i] === 0 && Math.abs(grad[i]!) <= l1));
          expect([...out.keys]).toEqual([...keys].filter((_, i) => keep[i]));
          expect([...out.vals]).toEqual([...grad].filter((_, i) => keep[i]));
          expect([...grad]).toEqual([...before]);
          expect(f.stats.bytesIn).toBe(keys.length * 12);
          expect(f.stats.bytesOut).toBe(out.keys.length * 12);
        },
      ),
    );
  });
});
