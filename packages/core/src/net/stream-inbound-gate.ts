import { INBOUND_BUDGET_EXEMPT_BYTES, type InboundBudget } from './inbound-budget.js';

/** What a {@link StreamInboundGate} needs of a connection: stop and restart reading it. */
export interface GatedStream {
  pause(): void;
  resume(): void;
}

/** One connection's account in a {@link StreamInboundGate}. */
export interface GateEntry {
  /** Bytes of a partial frame arrived (counted before they are parsed). */
  received(bytes: number): void;
  /** The frame being received completed: its bytes are given back. */
  frameDone(): void;
  /** The connection closed: its bytes are given back, and it is no longer paused or woken. */
  closed(): void;
}

interface Entry {
  stream: GatedStream;
  partial: number;
  paused: boolean;
  cancel: (() => void) | undefined;
}

/**
 * The node's inbound budget for transports whose frame lengths are known only once a frame is
 * complete (`ws` gathers a WebSocket message's fragments itself): bytes are counted as they
 * arrive; once the budget is over its maximum, a connection in the middle of a frame above 64 KiB
 * stops being read, except one (the "runner"), which may finish its frame so that the budget
 * always frees up again. So the bytes held are at most the budget, plus one frame (at most
 * `maxFrameBytes`), plus a chunk per paused connection; honest peers are paused, never refused.
 */
export class StreamInboundGate {
  private runner: Entry | undefined;
  private readonly paused = new Set<Entry>();

  constructor(private readonly budget: InboundBudget) {}

  /** Connections paused now. */
  get pausedCount(): number {
    return this.paused.size;
  }

  /** Starts counting a connection. */
  open(stream: GatedStream): GateEntry {
    const e: Entry = { stream, partial: 0, paused: false, cancel: undefined };
    return {
      received: (bytes) => {
        e.partial += bytes;
        const over = this.budget.charge(bytes);
        if (!over || e.paused || e.partial <= INBOUND_BUDGET_EXEMPT_BYTES || this.runner === e) return;
        if (this.runner === undefined) this.runner = e;
        else this.pause(e);
      },
      frameDone: () => this.settle(e, false),
      closed: () => this.settle(e, true),
    };
  }

  private pause(e: Entry): void {
    e.paused = true;
    this.paused.add(e);
    e.stream.pause();
    e.cancel = this.budget.onceUnder(() => this.wake(e));
  }

  private wake(e: Entry): void {
    if (!e.paused) return;
    e.paused = false;
    this.paused.delete(e);
    e.cancel = undefined;
    e.stream.resume();
  }

  private settle(e: Entry, closed: boolean): void {
    const bytes = e.partial;
    e.partial = 0;
    if (closed) {
      e.cancel?.();
      e.paused = false;
      this.paused.delete(e);
    }
    if (this.runner === e) this.runner = undefined;
    this.budget.refund(bytes); // wakes every paused connection if the budget is under again
    if (this.runner === undefined && this.paused.size > 0 && this.budget.usedBytes > this.budget.maxBytes) {
      // Still over with everyone paused: let the one furthest into its frame finish it.
      let next: Entry | undefined;
      for (const p of this.paused) if (!next || p.partial > next.partial) next = p;
      next!.cancel?.();
      this.runner = next;
      this.wake(next!);
    }
  }
}
