import { PsError, PsErrorCode } from '../errors.js';

/**
 * Default most bytes of partial inbound frames a node holds at once, over all its connections
 * (`maxInboundBufferBytes`): 256 MiB, 16 times the largest frame the benchmarks send (1,000,000
 * keys with their values, 12-16 MB). A connection holds at most one partial frame at a time.
 */
export const DEFAULT_MAX_INBOUND_BUFFER_BYTES = 256 * 1024 * 1024;

/**
 * Frames up to this many bytes are gathered without drawing on the budget: their memory is
 * bounded by `maxConnections` times this (64 MiB at the defaults), and so the control messages
 * and small requests of honest peers are never held back behind a large frame.
 */
export const INBOUND_BUDGET_EXEMPT_BYTES = 64 * 1024;

/** A place taken, or waited for, in an {@link InboundBudget}. */
export interface BudgetClaim {
  /** True once the bytes are held (at once, or when `granted` ran). */
  readonly held: boolean;
  /** Gives the bytes back (or stops waiting for them). Idempotent. */
  release(): void;
}

interface Waiter {
  bytes: number;
  granted: () => void;
  claim: { held: boolean; done: boolean };
}

/**
 * The per-node total of inbound frame bytes being gathered (`maxInboundBufferBytes`): a
 * transport claims a frame's whole length when its length prefix arrives, before it allocates
 * the frame, and releases it when the frame is complete (or the connection closes). A claim
 * that does not fit waits, first come first served; the transport stops reading that connection
 * meanwhile (`socket.pause()`: the kernel's window then holds the peer back), so a peer cannot
 * make the node buffer more than the budget however many connections it opens. Claiming the
 * whole frame up front means a frame once started always finishes: two half-read frames never
 * wait for each other.
 */
export class InboundBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];
  private readonly underWaiters = new Set<() => void>();

  /**
   * @param maxBytes most bytes held at once (at least {@link INBOUND_BUDGET_EXEMPT_BYTES}).
   * @throws PsError `PS_ERR_CONFIG` when `maxBytes` is smaller.
   */
  constructor(readonly maxBytes: number = DEFAULT_MAX_INBOUND_BUFFER_BYTES) {
    if (!(maxBytes >= INBOUND_BUDGET_EXEMPT_BYTES)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `maxInboundBufferBytes must be at least ${INBOUND_BUDGET_EXEMPT_BYTES} bytes; got ${maxBytes}`,
      );
    }
  }

  /** Bytes held now. */
  get usedBytes(): number {
    return this.used;
  }

  /** Claims waiting now. */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Claims `bytes` for a frame about to be gathered. When they fit (and nobody waits before),
   * the claim is held at once; otherwise `granted` runs once they are (the caller pauses its
   * connection until then).
   * @throws PsError `PS_ERR_INBOUND_BUDGET` when `bytes` exceeds the whole budget: such a frame
   *   can never be gathered, so the connection must be closed.
   */
  claim(bytes: number, granted: () => void): BudgetClaim {
    if (bytes > this.maxBytes) {
      throw new PsError(
        PsErrorCode.INBOUND_BUDGET,
        `peer announced a frame of ${bytes} bytes, larger than this node's whole inbound buffer (maxInboundBufferBytes, ${this.maxBytes}); closing the connection. Raise maxInboundBufferBytes on the receiving transport, or send smaller requests`,
        { bytes, max: this.maxBytes },
      );
    }
    const state = { held: false, done: false };
    if (this.waiters.length === 0 && this.used + bytes <= this.maxBytes) {
      this.used += bytes;
      state.held = true;
    } else {
      this.waiters.push({ bytes, granted, claim: state });
    }
    return {
      get held() {
        return state.held;
      },
      release: () => {
        if (state.done) return;
        state.done = true;
        if (state.held) {
          this.used -= bytes;
          this.grant();
        } else {
          const i = this.waiters.findIndex((w) => w.claim === state);
          if (i >= 0) this.waiters.splice(i, 1);
          if (i === 0) this.grant();
        }
      },
    };
  }

  /**
   * For a stream whose frame lengths are not known up front (a WebSocket message arrives in
   * fragments, parsed by `ws`): counts `bytes` already received for a partial frame, whether or
   * not they fit. Returns true when the budget is now over its maximum: the caller then stops
   * reading that connection (but one, so that some frame always completes) and waits for
   * {@link onceUnder}.
   */
  charge(bytes: number): boolean {
    this.used += bytes;
    return this.used > this.maxBytes;
  }

  /** Gives back bytes counted by {@link charge} (their frame completed, or its connection closed). */
  refund(bytes: number): void {
    this.used -= bytes;
    this.grant();
  }

  /** Runs `f` once the budget is at or under its maximum again; returns a function that cancels. */
  onceUnder(f: () => void): () => void {
    this.underWaiters.add(f);
    return () => this.underWaiters.delete(f);
  }

  /** Grants waiting claims in order while they fit; then, if under the maximum, wakes `onceUnder`. */
  private grant(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.bytes <= this.maxBytes) {
      const w = this.waiters.shift()!;
      this.used += w.bytes;
      w.claim.held = true;
      w.granted();
    }
    if (this.used <= this.maxBytes && this.underWaiters.size > 0) {
      const woken = [...this.underWaiters];
      this.underWaiters.clear();
      for (const f of woken) f();
    }
  }
}
