import type { KVWorker } from '@ps/core';

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
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < vals.length; i++) min = Math.min(min, vals[i]!);
      this.minSeen = Math.max(this.minSeen, min);
      if (min >= iterations) return;
      if (performance.now() > deadline) break;
      await sleep(2);
    }
    throw new Error(`workers did not reach iteration ${iterations} within ${timeoutMs} ms`);
  }

  /** Waits until every publish so far has been applied. */
  async flush(): Promise<void> {
    await this.published;
  }
}
