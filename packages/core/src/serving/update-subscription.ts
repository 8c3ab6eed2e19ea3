import type { Observable, Subscription } from 'rxjs';
import { KeyCoalescer } from '../internal/key-coalescer.js';
import type { UpdateBatch } from './update-feed.js';
import type { ResolvedUpdatesOptions } from './updates-options.js';

/**
 * A pull-style subscription to a server's updated keys, for a consumer slower than the
 * updates (one that sends each batch over a network, say): the consumer asks for the next batch
 * when it is ready (`await sub.next()` or `for await (const batch of sub)`), and the keys updated
 * meanwhile are coalesced, each held once however often it changed. So a slow consumer gets
 * fewer, larger (up to `maxKeys`) batches, never a queue: what is held is bounded by the keys
 * that changed (8 bytes a key, about twice over while merging), not by the number of updates.
 *
 * A batch is handed over when the consumer asks and keys are held, once `intervalMs` passed
 * since the previous batch or `maxKeys` keys are held. Iteration ends (`done`) after
 * {@link UpdateSubscription.close}, or when the server terminates (what was held is handed over
 * first).
 */
export class UpdateSubscription implements AsyncIterableIterator<UpdateBatch> {
  private readonly held: KeyCoalescer;
  private readonly waiters: ((r: IteratorResult<UpdateBatch>) => void)[] = [];
  private readonly sub: Subscription;
  private lastCut = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ended = false;

  /** @internal Made by `KVServer.subscribeUpdates`. */
  constructor(
    source: Observable<BigUint64Array>,
    private readonly opts: ResolvedUpdatesOptions,
    private readonly cut: (keys: BigUint64Array) => UpdateBatch,
  ) {
    this.held = new KeyCoalescer(opts.maxKeys);
    this.sub = source.subscribe({
      next: (keys) => {
        this.held.add(keys);
        // A consumer waiting on the interval's timer is served by it, unless the batch is full.
        if (this.waiters.length > 0 && (!this.timer || this.held.size >= this.opts.maxKeys)) this.serve();
      },
      error: () => this.end(),
      complete: () => this.end(),
    });
  }

  /** Keys held for this consumer now (an upper bound of the distinct ones): for metrics and tests. */
  get heldKeys(): number {
    return this.held.size;
  }

  /** Resolves with the next batch once there is one to give (see the class). */
  next(): Promise<IteratorResult<UpdateBatch>> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.serve();
    });
  }

  /** Stops the subscription (what is held is dropped); pending `next()` calls resolve `done`. */
  close(): void {
    this.sub.unsubscribe();
    this.ended = true;
    this.held.take(Number.MAX_SAFE_INTEGER);
    this.serve();
  }

  /** Ends a `for await` loop early: same as {@link UpdateSubscription.close}. */
  return(): Promise<IteratorResult<UpdateBatch>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private end(): void {
    this.ended = true;
    this.serve();
  }

  private serve(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.waiters.length > 0) {
      if (this.held.size === 0) {
        if (!this.ended) return;
        this.waiters.shift()!({ value: undefined, done: true });
        continue;
      }
      const wait = this.lastCut + this.opts.intervalMs - performance.now();
      if (!this.ended && this.held.size < this.opts.maxKeys && wait > 0) {
        this.timer = setTimeout(() => this.serve(), wait);
        this.timer.unref?.();
        return;
      }
      this.lastCut = performance.now();
      this.waiters.shift()!({ value: this.cut(this.held.take(this.opts.maxKeys)), done: false });
    }
  }
}
