import { PsError, PsErrorCode } from '../errors.js';

/** Default per-connection limit of messages received per second (generous: benchmarks stay far below). */
export const DEFAULT_MAX_MESSAGES_PER_SECOND = 100_000;

/**
 * A token bucket: holds up to `burst` tokens and gains `ratePerSecond` tokens a second; each
 * event takes one. Transports keep one per connection to limit the messages a peer may send
 * (`maxMessagesPerSecond`). `take` is a clock read and a few arithmetic operations: cheap
 * enough for every frame.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param ratePerSecond Tokens gained per second; `Infinity` never runs out.
   * @param burst Most tokens held (events allowed at once after a quiet spell). Default: one
   *   second's worth, `ratePerSecond` (at least 1).
   * @throws PsError `PS_ERR_CONFIG` when the rate is not positive or the burst is below 1.
   */
  constructor(
    readonly ratePerSecond: number,
    readonly burst = Math.max(1, ratePerSecond),
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `a message rate limit must be a positive number (got ${ratePerSecond}) with a burst of at least 1 (got ${burst})`,
      );
    }
    this.tokens = burst;
    this.last = performance.now();
  }

  /**
   * Takes one token. Returns false (and takes nothing) when the bucket is empty.
   * @param now The time in ms on `performance.now()`'s clock (for tests).
   */
  take(now = performance.now()): boolean {
    if (this.ratePerSecond === Number.POSITIVE_INFINITY) return true;
    const refill = ((now - this.last) * this.ratePerSecond) / 1000;
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (refill > 0 ? refill : 0));
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
