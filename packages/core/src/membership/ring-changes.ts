import { distinctUntilChanged, map, type Observable, type OperatorFunction } from 'rxjs';
import type { ClusterView } from './cluster-view.js';
import type { Ring } from './ring.js';

/**
 * The ring's changes in a stream of cluster views: emits a view's {@link Ring} when its
 * `ring.version` differs from the previous one emitted, and skips views that change only
 * membership, deaths or the epoch (the ring is the same).
 *
 * Key-range ownership changes only when the ring's version does, so a subscriber that re-slices
 * requests or rebuilds a cache per ring does its work once per ownership change.
 *
 * @example
 * ```ts
 * node.ring$.subscribe((ring) => console.log(`ring ${ring.version}: ${ring.size} servers`));
 * ```
 * @see PsNode.ring$
 * @return An operator from views to the distinct rings, in order.
 */
export function ringChanges(): OperatorFunction<ClusterView, Ring> {
  return (views: Observable<ClusterView>) =>
    views.pipe(
      map((v) => v.ring),
      distinctUntilChanged((a, b) => a.version === b.version),
    );
}
