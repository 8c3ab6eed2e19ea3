import { isPsError, PsErrorCode, seededRandom } from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CountMinSketch } from './count-min-sketch.js';

/** A Zipf(s) stream of `length` draws over items 0..n-1 (item k with weight 1/(k+1)^s), seeded. */
function zipfStream(seed: number, n: number, s: number, length: number): Uint32Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) cdf[k] = total += 1 / (k + 1) ** s;
  const rand = seededRandom(seed);
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i++) {
    const u = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    // Spread the ranks over the uint32 ids, as hashed strings would be.
    out[i] = Math.imul(lo + 1, 0x9e3779b1) >>> 0;
  }
  return out;
}

describe('CountMinSketch', () => {
  it('sizes itself from ε and δ: w = ⌈e/ε⌉, d = ⌈ln(1/δ)⌉', () => {
    const s = new CountMinSketch({ epsilon: 0.001, delta: 0.01 });
    expect([s.width, s.depth, s.size]).toEqual([2719, 5, 13_595]);
    const t = new CountMinSketch({ epsilon: 0.1, delta: 0.5 });
    expect([t.width, t.depth]).toEqual([28, 1]);
  });

  it('lays the counters out as increasing keys, one contiguous range a row, over the whole key space', () => {
    const s = new CountMinSketch({ epsilon: 0.05, delta: 0.1 });
    for (let i = 1; i < s.size; i++) expect(s.key(i) > s.key(i - 1)).toBe(true);
    expect(s.key(0)).toBe(0n);
    expect(s.key(s.size - 1) + s.stride <= 1n << 64n).toBe(true);
    expect(s.key(s.size - 1) + 2n * s.stride > 1n << 64n).toBe(true);
    for (let r = 0; r < s.depth; r++) {
      for (const item of [0, 1, 12345, 0xffffffff]) {
        const c = s.index(item, r);
        expect(c >= r * s.width && c < (r + 1) * s.width).toBe(true);
      }
    }
  });

  it('refuses ε or δ outside (0, 1) with PS_ERR_CONFIG, naming the option', () => {
    for (const bad of [
      { epsilon: 0, delta: 0.1 },
      { epsilon: 0.1, delta: 1 },
      { epsilon: Number.NaN, delta: 0.1 },
    ]) {
      let caught: unknown;
      try {
        new CountMinSketch(bad);
      } catch (err) {
        caught = err;
      }
      expect(isPsError(caught, PsErrorCode.CONFIG)).toBe(true);
      expect((caught as Error).message).toMatch(/(epsilon|delta) must be in \(0, 1\)/);
    }
  });

  it('on Zipf streams: never below the true count, and within εN for at least 1 − δ of the items', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom(0.8, 1.1, 1.5),
        fc.constantFrom(0.01, 0.02, 0.05),
        fc.constantFrom(0.01, 0.1, 0.3),
        (hashSeed, streamSeed, s, epsilon, delta) => {
          const stream = zipfStream(streamSeed, 5_000, s, 20_000);
          const sketch = new CountMinSketch({ epsilon, delta, seed: hashSeed });
          const counters = new Float64Array(sketch.size);
          const exact = new Map<number, number>();
          for (const x of stream) {
            sketch.addTo(counters, x);
            exact.set(x, (exact.get(x) ?? 0) + 1);
          }
          let within = 0;
          for (const [x, n] of exact) {
            const est = sketch.estimateFrom(counters, x);
            expect(est).toBeGreaterThanOrEqual(n);
            if (est - n <= epsilon * stream.length) within++;
          }
          expect(within / exact.size).toBeGreaterThanOrEqual(1 - delta);
        },
      ),
      // A fixed seed: the same 40 streams and hash seeds every run.
      { seed: 17, numRuns: 40 },
    );
  });

  it('is the same sketch for the same seed, and another for another seed', () => {
    const a = new CountMinSketch({ epsilon: 0.01, delta: 0.01, seed: 7 });
    const b = new CountMinSketch({ epsilon: 0.01, delta: 0.01, seed: 7 });
    const c = new CountMinSketch({ epsilon: 0.01, delta: 0.01, seed: 8 });
    const cols = (s: CountMinSketch) => Array.from({ length: s.depth }, (_, r) => s.index(424242, r));
    expect(cols(a)).toEqual(cols(b));
    expect(cols(a)).not.toEqual(cols(c));
  });
});
