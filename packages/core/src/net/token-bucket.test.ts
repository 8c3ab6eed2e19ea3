import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, then the rate, and never more than the burst after a quiet spell', () => {
    const b = new TokenBucket(10, 5);
    const t0 = Math.ceil(performance.now()) + 1; // whole milliseconds: exact differences
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (b.take(t0)) allowed++;
    expect(allowed).toBe(5);
    expect(b.take(t0 + 50)).toBe(false); // half a token
    expect(b.take(t0 + 100)).toBe(true); // one token after 100 ms at 10/s
    expect(b.take(t0 + 100)).toBe(false);
    allowed = 0;
    for (let i = 0; i < 20; i++) if (b.take(t0 + 60_000)) allowed++;
    expect(allowed).toBe(5);
  });

  it('holds the rate over a long run', () => {
    const b = new TokenBucket(1000);
    const t0 = performance.now();
    let allowed = 0;
    // 10 s of offers every 0.1 ms: the first second's burst plus 1,000 a second.
    for (let i = 0; i < 100_000; i++) if (b.take(t0 + i * 0.1)) allowed++;
    expect(allowed).toBeGreaterThanOrEqual(10_900);
    expect(allowed).toBeLessThanOrEqual(11_001);
  });

  it('never runs out at an infinite rate, and refuses a rate that is not positive', () => {
    const b = new TokenBucket(Number.POSITIVE_INFINITY);
    for (let i = 0; i < 1000; i++) expect(b.take()).toBe(true);
    for (const bad of [0, -1, Number.NaN]) {
      let err: unknown;
      try {
        new TokenBucket(bad);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
    }
  });
});
