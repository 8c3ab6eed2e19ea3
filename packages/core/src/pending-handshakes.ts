import { PsError, PsErrorCode } from './errors.js';

/**
 * The `maxPendingHandshakes` limit of a listening transport: counts the accepted sockets that
 * are open and those of them whose handshake completed, and refuses a new socket while `max`
 * others wait for theirs, so that connections which never speak cannot keep honest nodes out
 * for long (each is closed at `helloTimeoutMs`).
 */
export class PendingHandshakes {
  private open = 0;
  private authenticated = 0;
  private full = false;

  /** @param max sockets that may wait for their handshake at once (at least 1). */
  constructor(readonly max: number) {}

  /**
   * Asks to keep a newly accepted socket. When it may wait, it is counted until
   * {@link socketClosed}. When it must be refused, `report` holds a `PS_ERR_RATE_LIMIT` error the
   * first time in a run of refusals (log it once), and is undefined after that.
   */
  accept(): { accepted: boolean; report: PsError | undefined } {
    if (this.open - this.authenticated >= this.max) {
      const report = this.full
        ? undefined
        : new PsError(
            PsErrorCode.RATE_LIMIT,
            `${this.max} connections are waiting for their handshake (maxPendingHandshakes); refusing new connections until some complete or time out`,
          );
      this.full = true;
      return { accepted: false, report };
    }
    this.full = false;
    this.open++;
    return { accepted: true, report: undefined };
  }

  /** An accepted socket closed (whether or not its handshake completed). */
  socketClosed(): void {
    this.open--;
  }

  /** An accepted socket completed its handshake (`+1`) or, having completed it, closed (`-1`). */
  countAuthenticated(delta: 1 | -1): void {
    this.authenticated += delta;
  }
}
