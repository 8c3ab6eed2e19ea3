import type { KVWorker, PsNode } from '@ps/core';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
   * Resolves once every worker finished at least `iterations` iterations. Polls every 2 ms, for
   * at most `timeoutMs` (default 10 minutes), then rejects.
   */
  async waitFor(iterations: number, timeoutMs = 600_000): Promise<void> {
    if (iterations <= this.minSeen) return;
    const deadline = performance.now() + timeoutMs;
    for (let poll = 0; poll < 1_000_000; poll++) {
      const { vals } = await this.table.wait(this.table.pull(this.all));
      const dead = this.deadRanks();
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < vals.length; i++) if (!dead.has(i)) min = Math.min(min, vals[i]!);
      this.minSeen = Math.max(this.minSeen, min);
      if (min >= iterations) return;
      if (performance.now() > deadline) break;
      await sleep(2);
    }
    throw new Error(`workers did not reach iteration ${iterations} within ${timeoutMs} ms`);
  }

  /** Ranks (below `workers`) of the workers the node's view lists as dead. */
  deadRanks(): Set<number> {
    const view = this.node?.currentView;
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
