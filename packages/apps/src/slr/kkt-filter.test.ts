import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kktFilter } from './kkt-filter.js';

describe('kktFilter', () => {
  it('holds back zero-weight keys while their summed gradient is within λ1, and loses nothing (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.tuple(
              fc.integer({ min: 0, max: 9 }),
              fc.constantFrom(0, 0, 0.5),
              fc.float({ min: -1, max: 1, noNaN: true }),
            ),
            {
              maxLength: 12,
            },
          ),
          { maxLength: 15 },
        ),
        fc.constantFrom(0, 0.3, 2),
        (batches, l1) => {
          const f = kktFilter(l1);
          const pushed = new Map<bigint, number>();
          const given = new Map<bigint, number>();
          for (const batch of batches) {
            const byKey = new Map<number, [number, number]>();
            for (const [k, w, g] of batch) byKey.set(k, [w, g]);
            const ks = [...byKey.keys()].sort((a, b) => a - b);
            const keys = BigUint64Array.from(ks.map(BigInt));
            const weights = Float32Array.from(ks.map((k) => byKey.get(k)![0]));
            const grad = Float32Array.from(ks.map((k) => byKey.get(k)![1]));
            const before = grad.slice();
            const out = f.apply(keys, weights, grad);
            expect([...grad]).toEqual([...before]);
            ks.forEach((k, i) => {
              given.set(BigInt(k), (given.get(BigInt(k)) ?? 0) + grad[i]!);
            });
            out.keys.forEach((k, i) => {
              pushed.set(k, (pushed.get(k) ?? 0) + out.vals[i]!);
            });
            // A key with a nonzero weight is always pushed.
            ks.forEach((k, i) => {
              if (weights[i] !== 0) expect([...out.keys]).toContain(BigInt(k));
            });
          }
          // What was held back is the difference, and each held-back sum is within λ1.
          for (const [k, sum] of given) {
            const held = sum - (pushed.get(k) ?? 0);
            expect(Math.abs(held)).toBeLessThanOrEqual(l1 + 1e-5);
          }
        },
      ),
    );
  });
});
