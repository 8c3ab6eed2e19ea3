import {
  asyncScheduler,
  defer,
  distinctUntilChanged,
  EMPTY,
  filter,
  map,
  type Observable,
  type SchedulerLike,
  Subject,
  startWith,
  throttleTime,
} from 'rxjs';
import type { ClusterView } from '../membership/cluster-view.js';
import type { KeyRange } from '../wire/key-range.js';
import type { NodeId } from '../wire/message.js';

/** One key range of a server's ring, as {@link ReplicationState} reports it. */
export interface RangeReplication {
  /** First key of the range. */
  begin: bigint;
  /** The key after the range's last (`2^64` for the last range). */
  end: bigint;
  /** The range's chain on the ring: its master first, then its k replicas in ring order. */
  chain: readonly NodeId[];
  /** This server's place in the chain. */
  role: 'master' | 'replica';
  /**
   * Pushes in this range that this server forwarded and that are not acknowledged yet, in
   * requests (0 when every replica holds everything it was sent).
   */
  lag: number;
}

/** A server's replication state for one app, one entry per range it holds (see `KVServer.replication$`). */
export interface ReplicationState {
  /** This server. */
  server: NodeId;
  /** The version of the ring the ranges come from. */
  ring: number;
  /** Replicas per range besides its master (the view's k). */
  replicas: number;
  /** The ranges this server masters or replicates, in key order. */
  ranges: RangeReplication[];
}

/** Default time between two replication states, in ms: at most one per interval, plus the last. */
export const REPLICATION_STATE_INTERVAL_MS = 100;

/**
 * The replication state of one server's app as a stream: the replication code reports each
 * forward sent ({@link ReplicationStateStream.sent}) and settled, and each new view; `state$`
 * turns that into {@link ReplicationState}s, throttled so that a server under load emits at
 * most one state per interval (leading and trailing: a change is never left unreported), and
 * only when the state differs from the last one emitted.
 */
export class ReplicationStateStream {
  private view: ClusterView | undefined;
  /** Forwards not acknowledged yet, by sequence number: the ring ranges each one covers. */
  private readonly inFlight = new Map<number, readonly KeyRange[]>();
  private readonly changes = new Subject<void>();
  private isClosed = false;

  /**
   * The current state at once (none before the server has a view), then each change, at most
   * one per `intervalMs` (the last change of an interval is emitted at its end); completes when
   * the server terminates (after the state its last interval holds; a subscriber that comes
   * later gets nothing). Lags are counted in requests.
   */
  readonly state$: Observable<ReplicationState>;

  constructor(
    private readonly me: NodeId,
    intervalMs = REPLICATION_STATE_INTERVAL_MS,
    scheduler: SchedulerLike = asyncScheduler,
  ) {
    this.state$ = defer(() =>
      this.isClosed
        ? EMPTY
        : this.changes.pipe(
            startWith(undefined),
            throttleTime(intervalMs, scheduler, { leading: true, trailing: true }),
            map(() => this.snapshot()),
            filter((s): s is ReplicationState => s !== undefined),
            distinctUntilChanged(sameState),
          ),
    );
  }

  /** A new cluster view (the ring, the replica count or the chains may have changed). */
  onView(view: ClusterView): void {
    this.view = view;
    this.changes.next();
  }

  /** Forward `seq` was sent for the `slices` (indices into `view.ring.ranges()`) of a push. */
  sent(seq: number, view: ClusterView, slices: readonly { index: number }[]): void {
    const owned = view.ring.ranges();
    this.inFlight.set(
      seq,
      slices.map((s) => owned[s.index]!),
    );
    if (this.changes.observed) this.changes.next();
  }

  /** Forward (or copy) `seq` was acknowledged by every target, or its targets died. */
  settled(seq: number): void {
    if (this.inFlight.delete(seq) && this.changes.observed) this.changes.next();
  }

  /** Ends `state$` (the server terminates). */
  close(): void {
    this.isClosed = true;
    // The throttle emits what its interval holds, then the streams complete.
    this.changes.complete();
  }

  private snapshot(): ReplicationState | undefined {
    const view = this.view;
    if (!view) return undefined;
    const ring = view.ring;
    const ranges: RangeReplication[] = [];
    if (ring.size > 0) {
      const owned = ring.ranges();
      const chains = ring.chains(view.replicas);
      for (let i = 0; i < owned.length; i++) {
        const chain = chains[i]!;
        const at = chain.indexOf(this.me);
        if (at < 0) continue;
        const r = owned[i]!;
        let lag = 0;
        for (const covered of this.inFlight.values()) {
          if (covered.some((c) => c.begin < r.end && c.end > r.begin)) lag++;
        }
        ranges.push({ begin: r.begin, end: r.end, chain, role: at === 0 ? 'master' : 'replica', lag });
      }
    }
    return { server: this.me, ring: ring.version, replicas: view.replicas, ranges };
  }
}

function sameState(a: ReplicationState, b: ReplicationState): boolean {
  if (a.ring !== b.ring || a.replicas !== b.replicas || a.ranges.length !== b.ranges.length) {
    return false;
  }
  for (let i = 0; i < a.ranges.length; i++) {
    const x = a.ranges[i]!;
    const y = b.ranges[i]!;
    if (x.begin !== y.begin || x.lag !== y.lag || x.chain.join() !== y.chain.join()) return false;
  }
  return true;
}
