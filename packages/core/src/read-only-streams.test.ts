import type { Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import type { ProgressClock } from './consistency/progress-clock.js';
import type { WorkerProgress } from './consistency/worker-progress.js';
import type { KVServer } from './kv-server.js';
import type { ClusterView } from './membership/cluster-view.js';
import type { Ring } from './membership/ring.js';
import type { Scheduler } from './membership/scheduler.js';
import type { PsNode } from './ps-node.js';
import type { ReplicationState } from './replication/replication-state.js';
import type { UpdateBatch } from './serving/update-feed.js';

// Type-level tests (`npm run typecheck` runs tsc over src, tests included): the public streams
// are Observables, so no caller can `next()` a forged view into a node or a scheduler. Each
// `@ts-expect-error` fails the typecheck if the line ever compiles. The runtime check (no `next`
// on the objects) runs over real TCP in test/updates-stream.test.ts.

describe('public streams are read-only', () => {
  it('types cluster$ and ring$ as Observables, with the current view beside them', () => {
    expectTypeOf<PsNode['cluster$']>().toEqualTypeOf<Observable<ClusterView>>();
    expectTypeOf<PsNode['ring$']>().toEqualTypeOf<Observable<Ring>>();
    expectTypeOf<PsNode['currentView']>().toEqualTypeOf<ClusterView | undefined>();
    expectTypeOf<Scheduler['cluster$']>().toEqualTypeOf<Observable<ClusterView>>();
    expectTypeOf<Scheduler['ring$']>().toEqualTypeOf<Observable<Ring>>();
    expectTypeOf<Scheduler['currentView']>().toEqualTypeOf<ClusterView | undefined>();
    expectTypeOf<KVServer['replication$']>().toEqualTypeOf<Observable<ReplicationState>>();
    expectTypeOf<ReturnType<KVServer['updates$']>>().toEqualTypeOf<Observable<UpdateBatch>>();
    expectTypeOf<WorkerProgress['clock$']>().toEqualTypeOf<Observable<ProgressClock>>();
    expectTypeOf<ReturnType<WorkerProgress['waitFor$']>>().toEqualTypeOf<Observable<ProgressClock>>();
  });

  it('refuses next(), error() and complete() on them at compile time', () => {
    // Never called: only compiled.
    const forge = (node: PsNode, scheduler: Scheduler, view: ClusterView) => {
      // @ts-expect-error cluster$ has no next()
      node.cluster$.next(view);
      // @ts-expect-error cluster$ has no complete()
      node.cluster$.complete();
      // @ts-expect-error ring$ has no next()
      node.ring$.next(view.ring);
      // @ts-expect-error the scheduler's cluster$ has no next()
      scheduler.cluster$.next(view);
      // @ts-expect-error the private subject is not reachable
      node.views.next(view);
      // @ts-expect-error the server's streams have no next() either
      (null as unknown as KVServer).replication$.next(undefined);
      // @ts-expect-error the workers' progress clock has no next()
      node.progress.clock$.next({ version: 1, finished: {} });
      // @ts-expect-error nor the private subject behind it
      node.progress.state$.next(undefined);
    };
    expectTypeOf(forge).toBeFunction();
  });
});
