import type { ClusterView } from '../membership/cluster-view.js';
import type { Ring } from '../membership/ring.js';
import type { KeyRange } from '../wire/key-range.js';
import type { NodeId } from '../wire/message.js';

/** Keys `[begin, end)` (indices) of a key list that fall in range `index` of a ring. */
export interface ChainSlice {
  index: number;
  begin: number;
  end: number;
}

/**
 * The next hop of chain replication (van Renesse and Schneider, OSDI 2004; Li et al., OSDI 2014,
 * section 4.3) for each slice of a key list: the server after `me` in the chain of the slice's
 * range on `view`'s ring (master, replica 1, ..., tail; see `Ring.replicasOf`). `add(to, begin,
 * end)` is called once per slice that has one; nothing is called for a slice whose chain ends at
 * `me`, or does not hold `me` (a ring on which `me` no longer keeps that range: the range's new
 * chain gets it by copy). A successor declared dead is skipped: the chain of the next ring, which
 * drops it, decides where the keys go.
 */
export function chainSuccessors(
  view: ClusterView,
  me: NodeId,
  slices: readonly ChainSlice[],
  add: (to: NodeId, begin: number, end: number) => void,
): void {
  const chains = view.ring.chains(view.replicas);
  for (const s of slices) {
    const chain = chains[s.index]!;
    const at = chain.indexOf(me);
    if (at < 0) continue;
    for (let c = at + 1; c < chain.length; c++) {
      const to = chain[c]!;
      if (view.dead.includes(to)) continue;
      add(to, s.begin, s.end);
      break;
    }
  }
}

/**
 * What `me` must copy when the ring or the replica count changes, under chain replication: for
 * each range of the new ring whose chain holds `me`, its successor there gets the range when it
 * was not in that key span's old chain (a new replica or a new tail). Copies go from predecessor
 * to successor, on the link that also carries the pushes `me` applies afterwards, so that a copy
 * is always ahead of the pushes it does not include. A successor that was in the old chain holds
 * the range already: every push reached it through its predecessors.
 *
 * Returns, per target, the key ranges to copy (adjacent ranges merged).
 */
export function chainCopies(
  oldRing: Ring,
  oldK: number,
  view: ClusterView,
  me: NodeId,
): Map<NodeId, KeyRange[]> {
  const a = oldRing.ranges();
  const ca = oldRing.chains(Math.min(oldK, Math.max(0, oldRing.size - 1)));
  const b = view.ring.ranges();
  const cb = view.ring.chains(view.replicas);
  const copies = new Map<NodeId, KeyRange[]>();
  let i = 0;
  let j = 0;
  let begin = 0n;
  // Walk both rings' ranges at once: each step is a key span with one old and one new chain.
  while (j < b.length) {
    const rb = b[j]!;
    const ra = a[i];
    const end = ra && ra.end < rb.end ? ra.end : rb.end;
    const chain = cb[j]!;
    const at = chain.indexOf(me);
    const next = at >= 0 ? chain.slice(at + 1).find((id) => !view.dead.includes(id)) : undefined;
    const oldChain = ra ? ca[i]! : [];
    if (next !== undefined && !oldChain.includes(next)) {
      let list = copies.get(next);
      if (!list) {
        list = [];
        copies.set(next, list);
      }
      const last = list[list.length - 1];
      if (last && last.end === begin) list[list.length - 1] = { begin: last.begin, end };
      else list.push({ begin, end });
    }
    begin = end;
    if (ra && ra.end === end) i++;
    if (rb.end === end) j++;
  }
  return copies;
}
