// The transports a training Worker opened, kept so that it can close them when its page goes.
import type { Transport } from '@ps/core';

/**
 * The transports of a training Worker (train-worker.ts, nn-train-worker.ts). When the page tells
 * the Worker to leave (`{ type: 'leave' }`, on `pagehide`), {@link WorkerTransports.closeAll}
 * closes them: each WebSocket starts its closing handshake at once, so the scheduler sees the
 * tab's connections end, declares it dead a quarter of its heartbeat timeout later, and a live
 * worker trains the rest of its shard.
 */
export class WorkerTransports {
  private readonly open = new Set<Transport>();

  /** Keeps `t` (for {@link WorkerTransports.closeAll}) and returns it. */
  add<T extends Transport>(t: T): T {
    this.open.add(t);
    return t;
  }

  /** Closes every transport added (their sockets now; the promises are not awaited). */
  closeAll(): void {
    for (const t of this.open) void t.close().catch(() => undefined);
    this.open.clear();
  }
}
