import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accuracy, auc, logLoss } from './metrics.js';

/** O(n^2) reference: fraction of (positive, negative) pairs ranked correctly, ties counting 1/2. */
function pairwiseAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  let good = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i]! > scores[j]!) good += 1;
      else if (scores[i] === scores[j]) good += 0.5;
    }
  }
  return good / pairs;
}

describe('accuracy', () => {
  it('counts predictions prob > 0.5 as class 1', () => {
    const labels = Uint8Array.of(1, 0, 1, 0);
    expect(accuracy(labels, Float32Array.of(0.9, 0.1, 0.2, 0.7))).toBe(0.5);
    expect(accuracy(labels, Float32Array.of(0.9, 0.1, 0.6, 0.4))).toBe(1);
    expect(accuracy(labels, Float64Array.of(0.5, 0.5, 0.5, 0.5))).toBe(0.5);
    expect(accuracy(labels, Float64Array.of(0.6, 0.6, 0.6, 0.6), 0.7)).toBe(0.5);
  });

  it('rejects mismatched lengths and bad labels; NaN on empty input', () => {
    expect(() => accuracy(Uint8Array.of(1), Float32Array.of(0.5, 0.5))).toThrow(RangeError);
    expect(() => accuracy(Uint8Array.of(2), Float32Array.of(0.5))).toThrow(/not 0 or 1/);
    expect(accuracy(new Uint8Array(0), new Float32Array(0))).toBeNaN();
  });
});

describe('logLoss', () => {
  it('matches a hand-computed value', () => {
    // -(ln 0.8 + ln(1 - 0.4)) / 2
    expect(logLoss(Uint8Array.of(1, 0), Float64Array.of(0.8, 0.4))).toBeCloseTo(0.366984584, 8);
    expect(logLoss(Uint8Array.of(1, 1, 0, 0), Float64Array.of(0.5, 0.5, 0.5, 0.5))).toBeCloseTo(Math.LN2, 12);
  });

  it('clips probabilities to [1e-15, 1 - 1e-15]', () => {
    expect(logLoss(Uint8Array.of(1), Float64Array.of(0))).toBeCloseTo(-Math.log(1e-15), 8);
    expect(logLoss(Uint8Array.of(0), Float64Array.of(1))).toBeCloseTo(-Math.log(1e-15), 1);
    expect(logLoss(Uint8Array.of(1, 0), Float64Array.of(1, 0))).toBeLessThan(1e-14);
  });
});

describe('auc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 for all ties', () => {
    const labels = Uint8Array.of(0, 0, 1, 1, 0, 1);
    const perfect = Float64Array.of(0.1, 0.2, 0.8, 0.9, 0.3, 0.7);
    expect(auc(labels, perfect)).toBe(1);
    expect(
      auc(
        labels,
        perfect.map((s) => -s),
      ),
    ).toBe(0);
    expect(auc(labels, new Float64Array(6).fill(0.3))).toBe(0.5);
  });

  it('matches hand-computed values, with and without ties', () => {
    // the classic example: 3 of 4 (pos, neg) pairs ordered correctly
    expect(auc(Uint8Array.of(0, 0, 1, 1), Float32Array.of(0.1, 0.4, 0.35, 0.8))).toBe(0.75);
    // pairs: (0.5 vs 0.5) = 1/2, (0.5 vs 0.2) = 1, (0.9 vs 0.5) = 1, (0.9 vs 0.2) = 1 -> 3.5 / 4
    expect(auc(Uint8Array.of(0, 1, 0, 1), Float32Array.of(0.5, 0.5, 0.2, 0.9))).toBe(0.875);
    expect(auc(Uint8Array.of(0, 1), Float64Array.of(-Infinity, Infinity))).toBe(1);
  });

  it('is NaN when only one class is present, and rejects NaN scores', () => {
    expect(auc(Uint8Array.of(1, 1), Float32Array.of(0.2, 0.3))).toBeNaN();
    expect(() => auc(Uint8Array.of(0, 1), Float32Array.of(0.2, Number.NaN))).toThrow(/NaN/);
  });

  it('property: equals the pairwise definition, lies in [0, 1], and flips under negated scores', () => {
    const sample = fc
      .array(fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: -5, max: 5 })), {
        minLength: 2,
        maxLength: 60,
      })
      .filter((xs) => xs.some(([y]) => y === 1) && xs.some(([y]) => y === 0));
    fc.assert(
      fc.property(sample, (xs) => {
        const labels = Uint8Array.from(xs.map(([y]) => y));
        const scores = Float64Array.from(xs.map(([, s]) => s / 4));
        const a = auc(labels, scores);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(1);
        expect(a).toBeCloseTo(pairwiseAuc(labels, scores), 12);
        expect(
          auc(
            labels,
            scores.map((s) => -s),
          ),
        ).toBeCloseTo(1 - a, 12);
      }),
      { numRuns: 300 },
    );
  });
});
