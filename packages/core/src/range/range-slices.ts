import type { Ring } from '../membership/ring.js';
import type { KeyRange } from '../wire/key-range.js';
import type { NodeId } from '../wire/message.js';

/**
 * Slices key ranges by the ring: for each server owning part of them, the parts it owns, in key
 * order (a server owns several ranges of the ring, one per virtual server, so its parts may be
 * many). Empty ranges give nothing. O(ring ranges + ranges).
 * @param ranges sorted, disjoint ranges
 */
export function sliceRanges(ring: Ring, ranges: readonly KeyRange[]): Map<NodeId, KeyRange[]> {
  const owned = ring.ranges();
  const out = new Map<NodeId, KeyRange[]>();
  let i = 0;
  for (const r of ranges) {
    if (r.end <= r.begin) continue;
    while (i < owned.length && owned[i]!.end <= r.begin) i++;
    for (let j = i; j < owned.length && owned[j]!.begin < r.end; j++) {
      const o = owned[j]!;
      const begin = o.begin > r.begin ? o.begin : r.begin;
      const end = o.end < r.end ? o.end : r.end;
      let list = out.get(o.owner);
      if (!list) {
        list = [];
        out.set(o.owner, list);
      }
      const last = list[list.length - 1];
      if (last && last.end === begin) list[list.length - 1] = { begin: last.begin, end };
      else list.push({ begin, end });
    }
  }
  return out;
}

/** The first part of `ranges` that server `id` does not own on `ring`, or `undefined` when it owns them all. */
export function firstNotOwned(ring: Ring, id: NodeId, ranges: readonly KeyRange[]): KeyRange | undefined {
  for (const [owner, parts] of sliceRanges(ring, ranges)) if (owner !== id) return parts[0];
  return undefined;
}

/** Sorted, disjoint ranges covering the same keys as `ranges` (adjacent ones joined). */
export function joinRanges(ranges: readonly KeyRange[]): KeyRange[] {
  const sorted = ranges
    .filter((r) => r.end > r.begin)
    .sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
  const out: KeyRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.end >= r.begin)
      out[out.length - 1] = { begin: last.begin, end: r.end > last.end ? r.end : last.end };
    else out.push(r);
  }
  return out;
}
