import type { KVWorker, PsNode } from '@ps/core';

/**
 * The pause between two polls of the clock, in ms: each poll is a request every server answers
 * with a write of its own, so a poll sent again at once costs the server that holds the clock
 * as much as it saves the waiter (measured: its `writev` time doubled).
 */
const POLL_PAUSE_MS = 1;

/**
 * The workers' progress, shared through the servers: worker r keeps, under key r of a small
 * table of its own (an app id with the assign handler), how many of its iterations the servers
 * have applied. Bounded delay across workers (OSDI 2014, section 3.5; Figure 13) waits on it: a
 * worker may start iteration i only when every worker has finished iteration i − τ − 1, so a
 * straggler holds the others back by at most τ iterations.
 */
export class WorkerClock {
  private readonly all: BigUint64Array;
  private readonly mine: BigUint64Array;
  private published: Promise<unknown> = Promise.resolve();
  private minSeen = 0;

  constructor(
    private readonly table: KVWorker,
    readonly rank: number,
    readonly workers: number,
    /** When given, workers its view lists as dead are not waited for. */
    private readonly node?: PsNode,
  ) {
    this.all = BigUint64Array.from({ length: workers }, (_, i) => BigInt(i));
    this.mine = BigUint64Array.of(BigInt(rank));
  }

  /** Records that this worker finished `iterations` iterations (publishes are kept in order). */
  publish(iterations: number): void {
    const vals = Float32Array.of(iterations);
    this.published = this.published.then(() => this.table.wait(this.table.push({ keys: this.mine, vals })));
    // `flush` reports a failure; until then (or if training stopped early) it is not unhandled.
    this.published.catch(() => undefined);
  }

  /**
   * Resolves once every worker finished at least `iterations` iterations. Every waiter shares one
   * poll of the clock table (a pull of every worker's entry): sent at once when the first waiter
   * comes, then {@link POLL_PAUSE_MS} after each answer while some waiter is left. Rejects after
   * `timeoutMs` (default 10 minutes) without the progress.
   */
  waitFor(iterations: number, timeoutMs = 600_000): Promise<void> {
    if (iterations <= this.minSeen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ iterations, deadline: performance.now() + timeoutMs, timeoutMs, resolve, reject });
      if (!this.polling) void this.poll();
    });
  }

  private readonly waiters: {
    iterations: number;
    deadline: number;
    timeoutMs: number;
    resolve: () => void;
    reject: (e: Error) => void;
  }[] = [];
  private polling = false;

  /** Pulls the clock until no waiter is left (at most 10 million polls). */
  private async poll(): Promise<void> {
    this.polling = true;
    try {
      for (let round = 0; round < 10_000_000 && this.waiters.length > 0; round++) {
        const { vals } = await this.table.wait(this.table.pull(this.all));
        const dead = this.deadRanks();
        let min = Number.POSITIVE_INFINITY;
        for (let i = 0; i < vals.length; i++) if (!dead.has(i)) min = Math.min(min, vals[i]!);
        this.minSeen = Math.max(this.minSeen, min);
        const now = performance.now();
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          const w = this.waiters[i]!;
          if (w.iterations <= this.minSeen) w.resolve();
          else if (now > w.deadline)
            w.reject(new Error(`workers did not reach iteration ${w.iterations} within ${w.timeoutMs} ms`));
          else continue;
          this.waiters.splice(i, 1);
        }
        // Let the answers' continuations run (they may add waiters) before the next poll.
        if (this.waiters.length > 0) await new Promise((r) => setTimeout(r, POLL_PAUSE_MS));
      }
      for (const w of this.waiters.splice(0))
        w.reject(new Error('the clock poll gave up after 10,000,000 rounds'));
    } catch (err) {
      for (const w of this.waiters.splice(0)) w.reject(err as Error);
    } finally {
      this.polling = false;
    }
  }

  /** Ranks (below `workers`) of the workers the node's view lists as dead. */
  deadRanks(): Set<number> {
    const view = this.node?.cluster$.value;
    const out = new Set<number>();
    if (!view) return out;
    for (const w of view.workers) if (view.dead.includes(w.id) && w.rank < this.workers) out.add(w.rank);
    return out;
  }

  /** Iterations worker `rank` has published (what the servers applied of its pushes). */
  async progressOf(rank: number): Promise<number> {
    const { vals } = await this.table.wait(this.table.pull(BigUint64Array.of(BigInt(rank))));
    return vals[0] ?? 0;
  }

  /** Waits until every publish so far has been applied. */
  async flush(): Promise<void> {
    await this.published;
  }
}
