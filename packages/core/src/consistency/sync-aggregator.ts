import { PsError, PsErrorCode } from '../errors.js';
import type { ClusterView } from '../membership/cluster-view.js';
import { gatherKV } from '../wire/gather.js';
import { lowerBound } from '../wire/key-range.js';
import { type KVPairs, keyWords } from '../wire/kv-pairs.js';
import type { NodeId } from '../wire/message.js';
import { IterationSum } from './iteration-sum.js';

/** Options of the sync mode of a server (aggregation on servers). */
export interface SyncOptions {
  /**
   * Iterations a server holds open at once (one sum each, until every live worker pushed it);
   * a push that would open one more is refused with `PS_ERR_SYNC_BACKLOG`. Default 8.
   */
  maxOpenIterations?: number;
}

export const DEFAULT_MAX_OPEN_ITERATIONS = 8;

/** One worker push of an iteration, as the aggregator keeps it until the iteration is applied. */
export interface SyncPush {
  /** The worker. */
  sender: NodeId;
  /** The worker's incarnation, timestamp and the keys it pushed (for the delivery window). */
  inc: string;
  ts: number;
  keys: BigUint64Array;
  /** Called once the iteration's sum is applied here and held by every replica (or failed). */
  settle: (err?: PsError) => void;
  /**
   * A part re-sliced to this server after a ring change (a failover, a join): when its iteration
   * is not open here, it is applied on its own rather than opening an iteration that the other
   * workers, whose parts went elsewhere, would never push.
   */
  resend?: boolean;
}

/** What the aggregator asks of its server. */
export interface SyncHooks {
  /**
   * Applies an iteration's sum once with the update rule and replicates it; resolves once every
   * replica holds it, with the first refusal. `pushes` are the worker pushes summed in it.
   */
  apply(sum: KVPairs, pushes: readonly SyncPush[]): Promise<PsError | undefined>;
}

interface OpenIteration {
  sum: IterationSum;
  /** Live workers when the iteration opened, less those declared dead since. */
  expected: Set<NodeId>;
  arrived: Set<NodeId>;
  pushes: SyncPush[];
  /** Applied here; waiting for the replicas. */
  applying: boolean;
}

/**
 * The sync mode of one server (aggregation on servers, as BytePS and the paper's section 4.3):
 * per iteration, the sum of the pushes of the live workers; once every worker that was live when
 * the iteration opened has pushed it (or has been declared dead), the sum is applied once, in
 * iteration order, replicated once, and only then are those pushes acknowledged and that
 * iteration's pulls answered. A worker that joins later is not waited for until the next
 * iteration it opens; a push of an iteration already applied, or a re-sliced part of one not
 * open here (after a failover or a join), is applied on its own, so nothing is lost and no
 * iteration waits for pushes that went to other servers. Memory: one {@link IterationSum} per
 * open iteration, at most `maxOpenIterations`.
 */
export class SyncAggregator {
  private readonly open = new Map<number, OpenIteration>();
  private live = new Set<NodeId>();
  /** The highest iteration applied (-1: none yet). */
  private appliedUpTo = -1;
  /** Pulls held until every open iteration below theirs is applied and replicated. */
  private held: { iteration: number; run: () => void }[] = [];
  private readonly maxOpen: number;
  /**
   * Iterations applied, late pushes applied on their own, and keys of resent parts dropped
   * because an earlier copy of the same push put them in the open iteration already (for logs
   * and tests).
   */
  readonly counters = { iterations: 0, late: 0, duplicateKeys: 0 };

  constructor(
    private readonly hooks: SyncHooks,
    opts: SyncOptions = {},
  ) {
    const max = opts.maxOpenIterations ?? DEFAULT_MAX_OPEN_ITERATIONS;
    if (!Number.isInteger(max) || max < 1) {
      throw new PsError(PsErrorCode.CONFIG, `sync.maxOpenIterations must be a positive integer, got ${max}`);
    }
    this.maxOpen = max;
  }

  /** Iterations open now (summing or replicating). */
  get openIterations(): number {
    return this.open.size;
  }

  /** A new view: the live workers are those listed and not dead; dead ones are waited for no more. */
  onView(view: ClusterView): void {
    const dead = new Set(view.dead);
    this.live = new Set(view.workers.filter((w) => !dead.has(w.id)).map((w) => w.id));
    for (const it of this.open.values()) {
      for (const id of it.expected) if (!this.live.has(id)) it.expected.delete(id);
    }
    this.closeReady();
  }

  /**
   * Adds a worker's push of `iteration`.
   * @throws PsError `PS_ERR_SYNC_BACKLOG` when it would open more iterations than the cap,
   *   `PS_ERR_SYNC` for a push of another width than the iteration's (nothing is added then).
   */
  push(iteration: number, kv: KVPairs, push: SyncPush): void {
    let it = this.open.get(iteration);
    if (!it && (iteration <= this.appliedUpTo || push.resend === true)) {
      // Its iteration was applied already: apply it on its own (never lose an acknowledged push).
      this.applyLate(kv, push);
      return;
    }
    if (!it) {
      if (this.open.size >= this.maxOpen) {
        throw new PsError(
          PsErrorCode.SYNC_BACKLOG,
          `a push of iteration ${iteration} would open more than ${this.maxOpen} iterations on this server (the oldest open is ${Math.min(...this.open.keys())}); wait for each iteration's push before pushing further ahead, or raise sync.maxOpenIterations`,
        );
      }
      it = {
        sum: new IterationSum(),
        expected: new Set(this.live),
        arrived: new Set(),
        pushes: [],
        applying: false,
      };
      this.open.set(iteration, it);
    }
    // A resent part (the worker re-slices every unanswered part on a new ring, those still
    // waiting here in this open iteration too) adds only the keys no earlier copy of its push
    // put in the iteration; it settles with the iteration (and its late part, if any).
    const rest = push.resend === true ? this.unseen(it, kv, push) : kv;
    if (it.applying) {
      // Its sum is applied and on its way to the replicas: what is new of this part (a re-slice)
      // goes on its own; what the sum holds already settles with the sum.
      if (rest === kv) {
        this.applyLate(kv, push);
        return;
      }
      const withSum = new Promise<PsError | undefined>((settle) => it.pushes.push({ ...push, settle }));
      if (rest.keys.length === 0) {
        void withSum.then(push.settle);
        return;
      }
      const late = new Promise<PsError | undefined>((settle) => this.applyLate(rest, { ...push, settle }));
      void Promise.all([withSum, late]).then(([a, b]) => push.settle(a ?? b));
      return;
    }
    it.sum.add(rest);
    it.arrived.add(push.sender);
    it.pushes.push(push);
    this.closeReady();
  }

  /** Applies one push on its own (its iteration was applied, or it is a re-slice), then settles it. */
  private applyLate(kv: KVPairs, push: SyncPush): void {
    const late = new IterationSum();
    late.add(kv);
    this.counters.late++;
    void this.hooks.apply(late.result(), [push]).then(push.settle);
  }

  /**
   * The keys of a resent part that no earlier copy of the same push (sender, incarnation,
   * timestamp) put in iteration `it`: `kv` itself when there are none such, else a view or copy
   * of the rest (possibly empty). The delivery window cannot tell: it records a push once its
   * iteration is applied, and an open iteration is not. O(n log m) for m keys of earlier copies.
   */
  private unseen(it: OpenIteration, kv: KVPairs, push: SyncPush): KVPairs {
    const earlier = it.pushes.filter(
      (q) => q.sender === push.sender && q.inc === push.inc && q.ts === push.ts && q.keys.length > 0,
    );
    if (earlier.length === 0) return kv;
    const words = earlier.map((q) => keyWords(q.keys));
    const fresh: number[] = [];
    let covered = 0;
    for (let i = 0; i < kv.keys.length; i++) {
      const k = kv.keys[i]!;
      let hit = false;
      for (let a = 0; a < earlier.length && !hit; a++) {
        const ek = earlier[a]!.keys;
        const j = lowerBound(ek, k, words[a]);
        hit = j < ek.length && ek[j] === k;
      }
      if (hit) covered++;
      else if (fresh.length > 0 && fresh[fresh.length - 1] === i) fresh[fresh.length - 1] = i + 1;
      else fresh.push(i, i + 1);
    }
    if (covered === 0) return kv;
    this.counters.duplicateKeys += covered;
    if (fresh.length === 0) return { keys: kv.keys.subarray(0, 0), vals: kv.vals.subarray(0, 0) };
    return gatherKV(kv, fresh, true);
  }

  /**
   * Runs `run` once every open iteration below `iteration` is applied and replicated (at once
   * when none is), so that a pull of iteration t sees the sums of the iterations before it.
   */
  pull(iteration: number, run: () => void): void {
    if (this.blocks(iteration)) this.held.push({ iteration, run });
    else run();
  }

  private blocks(iteration: number): boolean {
    for (const t of this.open.keys()) if (t < iteration) return true;
    return false;
  }

  /** Applies, in iteration order, every open iteration whose expected workers all pushed. */
  private closeReady(): void {
    const order = [...this.open.keys()].sort((a, b) => a - b);
    for (const t of order) {
      const it = this.open.get(t)!;
      if (it.applying) continue;
      for (const id of it.expected) if (!it.arrived.has(id)) return;
      it.applying = true;
      if (t > this.appliedUpTo) this.appliedUpTo = t;
      this.counters.iterations++;
      const pushes = it.pushes;
      void this.hooks.apply(it.sum.result(), pushes).then((err) => {
        this.open.delete(t);
        for (const p of pushes) p.settle(err);
        this.releasePulls();
      });
    }
  }

  private releasePulls(): void {
    if (this.held.length === 0) return;
    const still: typeof this.held = [];
    const ready: (() => void)[] = [];
    for (const h of this.held) {
      if (this.blocks(h.iteration)) still.push(h);
      else ready.push(h.run);
    }
    this.held = still;
    for (const run of ready) run();
  }
}
