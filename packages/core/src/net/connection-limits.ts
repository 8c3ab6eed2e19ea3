import { PsError, PsErrorCode } from '../errors.js';
import { DEFAULT_MAX_PENDING_HANDSHAKES } from './handshake.js';

/** Default most connections a listening transport keeps open at once (`maxConnections`). */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/**
 * Default most connections from one source address that may wait for their handshake at once
 * (`maxPendingHandshakesPerSource`): a flood from one address cannot take every place of
 * `maxPendingHandshakes` from nodes elsewhere.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE = 16;

/** The limits of {@link ConnectionLimits}; each must be at least 1. */
export interface ConnectionLimitsOptions {
  /** Accepted connections open at once, waiting or authenticated. Default 1,024. */
  maxConnections?: number;
  /** Accepted connections waiting for their handshake at once. Default 128. */
  maxPendingHandshakes?: number;
  /** Of those, from one source address. Default 16. */
  maxPendingHandshakesPerSource?: number;
}

/**
 * One accepted connection, counted by {@link ConnectionLimits} until {@link closed}. Both calls
 * are idempotent, so a transport may call them from every path that ends a connection.
 */
export interface Admission {
  /** The connection completed its handshake: it no longer holds a pending place. */
  authenticated(): void;
  /** The connection closed (whether or not its handshake completed): it frees its places. */
  closed(): void;
}

/** What {@link ConnectionLimits.accept} decided. */
export type AdmissionResult =
  | { accepted: true; admission: Admission }
  /** `report` is set the first time in a run of refusals of that kind (log it once), else undefined. */
  | { accepted: false; report: PsError | undefined };

type Refusal = 'connections' | 'pending' | 'source';

/**
 * The connection limits of a listening transport, checked when a connection is accepted (before
 * TLS, HTTP or the `@ps` handshake cost anything): at most `maxConnections` open, at most
 * `maxPendingHandshakes` waiting for their handshake, and at most `maxPendingHandshakesPerSource`
 * of those from one source address. So connections that never speak cannot keep honest nodes out
 * (each is closed at `helloTimeoutMs` anyway), and a flood from one address leaves places for
 * nodes on other addresses. A refused connection is closed by the caller at once.
 */
export class ConnectionLimits {
  readonly maxConnections: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerSource: number;
  private open = 0;
  private pending = 0;
  private readonly pendingBySource = new Map<string, number>();
  /** The kind of the last refusal in the current run of refusals (reported once). */
  private refusing: Refusal | undefined;

  /** @throws PsError `PS_ERR_CONFIG` when a limit is not a number of at least 1. */
  constructor(opts: ConnectionLimitsOptions = {}) {
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.maxPendingHandshakes = opts.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    this.maxPendingHandshakesPerSource =
      opts.maxPendingHandshakesPerSource ?? DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE;
    if (
      !(this.maxConnections >= 1) ||
      !(this.maxPendingHandshakes >= 1) ||
      !(this.maxPendingHandshakesPerSource >= 1)
    ) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'maxConnections, maxPendingHandshakes and maxPendingHandshakesPerSource must each be at least 1',
      );
    }
  }

  /** Connections open now (accepted and not closed). */
  get openConnections(): number {
    return this.open;
  }

  /** Connections waiting for their handshake now, from `source` if given, else from anywhere. */
  pendingHandshakes(source?: string): number {
    return source === undefined ? this.pending : (this.pendingBySource.get(source) ?? 0);
  }

  /**
   * Asks to keep a newly accepted connection from `source` (its remote address, without the
   * port). Refused with `PS_ERR_CONNECTION_LIMIT` past `maxConnections`, with `PS_ERR_RATE_LIMIT`
   * past either pending-handshake limit.
   */
  accept(source: string): AdmissionResult {
    const refusal: Refusal | undefined =
      this.open >= this.maxConnections
        ? 'connections'
        : this.pending >= this.maxPendingHandshakes
          ? 'pending'
          : (this.pendingBySource.get(source) ?? 0) >= this.maxPendingHandshakesPerSource
            ? 'source'
            : undefined;
    if (refusal !== undefined) {
      const report = this.refusing === refusal ? undefined : this.refusalError(refusal, source);
      this.refusing = refusal;
      return { accepted: false, report };
    }
    this.refusing = undefined;
    this.open++;
    this.pending++;
    this.pendingBySource.set(source, (this.pendingBySource.get(source) ?? 0) + 1);
    let waiting = true;
    let open = true;
    const leavePending = () => {
      if (!waiting) return;
      waiting = false;
      this.pending--;
      const n = (this.pendingBySource.get(source) ?? 1) - 1;
      if (n > 0) this.pendingBySource.set(source, n);
      else this.pendingBySource.delete(source);
    };
    return {
      accepted: true,
      admission: {
        authenticated: leavePending,
        closed: () => {
          leavePending();
          if (!open) return;
          open = false;
          this.open--;
        },
      },
    };
  }

  private refusalError(refusal: Refusal, source: string): PsError {
    if (refusal === 'connections') {
      return new PsError(
        PsErrorCode.CONNECTION_LIMIT,
        `${this.maxConnections} connections are open (maxConnections); refusing new connections until some close`,
        { max: this.maxConnections },
      );
    }
    if (refusal === 'pending') {
      return new PsError(
        PsErrorCode.RATE_LIMIT,
        `${this.maxPendingHandshakes} connections are waiting for their handshake (maxPendingHandshakes); refusing new connections until some complete or time out`,
        { max: this.maxPendingHandshakes },
      );
    }
    return new PsError(
      PsErrorCode.RATE_LIMIT,
      `${this.maxPendingHandshakesPerSource} connections from ${source} are waiting for their handshake (maxPendingHandshakesPerSource); refusing more from that address until some complete or time out`,
      { max: this.maxPendingHandshakesPerSource, source },
    );
  }
}
