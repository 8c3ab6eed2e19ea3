import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../membership/cluster-view.js';
import { Ring } from '../membership/ring.js';
import type { KeyRange } from '../wire/key-range.js';
import { chainCopies, chainSuccessors } from './chain-hops.js';

const ids = ['s0', 's1', 's2', 's3'];

function viewOf(ring: Ring, replicas: number, dead: string[] = []): ClusterView {
  return { version: 1, epoch: 1, run: 'r', leaseMs: 1000, servers: [], workers: [], ring, replicas, dead };
}

/** Every range of `ring` as a one-key slice (index i covers key i of a made-up key list). */
function allSlices(ring: Ring) {
  return ring.ranges().map((_, index) => ({ index, begin: index, end: index + 1 }));
}

/** Which server `me` sends each range to: range index -> successor. */
function hops(view: ClusterView, me: string): Map<number, string> {
  const out = new Map<number, string>();
  chainSuccessors(view, me, allSlices(view.ring), (to, b) => out.set(b, to));
  return out;
}

const covers = (ranges: readonly KeyRange[] | undefined, key: bigint) =>
  (ranges ?? []).some((r) => key >= r.begin && key < r.end);

describe('chainSuccessors', () => {
  for (const k of [1, 2, 3]) {
    it(`k = ${k}: each link sends to the next server of the range's chain, the tail to nobody`, () => {
      const ring = Ring.create(ids, { virtualNodes: 8 });
      const view = viewOf(ring, k);
      const chains = ring.chains(k);
      const sent = new Map(ids.map((id) => [id, hops(view, id)]));
      chains.forEach((chain, i) => {
        expect(chain.length).toBe(k + 1);
        for (let at = 0; at < chain.length; at++) {
          expect(sent.get(chain[at]!)!.get(i)).toBe(chain[at + 1]);
        }
        for (const id of ids) if (!chain.includes(id)) expect(sent.get(id)!.has(i)).toBe(false);
      });
    });
  }

  it('skips a successor declared dead: the next one of the chain takes the keys', () => {
    const ring = Ring.create(ids, { virtualNodes: 8 });
    const chains = ring.chains(2);
    const i = 0;
    const [m, r1, r2] = chains[i]! as [string, string, string];
    expect(hops(viewOf(ring, 2, [r1]), m).get(i)).toBe(r2);
    expect(hops(viewOf(ring, 2, [r2]), r1).has(i)).toBe(false);
  });
});

describe('chainCopies', () => {
  it('a middle link dies: its chains gain a new tail, copied from its predecessor only', () => {
    const old = Ring.create(ids, { virtualNodes: 8 });
    const dead = 's1';
    const next = old.withoutServer(dead);
    const view = viewOf(next, 2, [dead]);
    const copies = new Map(ids.filter((id) => id !== dead).map((id) => [id, chainCopies(old, 2, view, id)]));
    let spans = 0;
    for (const r of next.ranges()) {
      // Probe the first key of each range against both rings' chains.
      const key = r.begin;
      const before = old.replicasOf(key, 2);
      const after = next.replicasOf(key, 2);
      for (let at = 1; at < after.length; at++) {
        const to = after[at]!;
        const from = after[at - 1]!;
        const sentBy = [...copies].filter(([, c]) => covers(c.get(to), key)).map(([id]) => id);
        if (before.includes(to)) expect(sentBy, `${to} held ${key} already`).toEqual([]);
        else {
          expect(sentBy, `${to} new in the chain of ${key}`).toEqual([from]);
          spans++;
        }
      }
    }
    expect(spans).toBeGreaterThan(0);
  });

  it('k grows from 1 to 2: each new tail is copied from the old tail', () => {
    const ring = Ring.create(ids, { virtualNodes: 8 });
    const view = viewOf(ring, 2);
    const copies = new Map(ids.map((id) => [id, chainCopies(ring, 1, view, id)]));
    for (const r of ring.ranges()) {
      const [, r1, r2] = ring.replicasOf(r.begin, 2) as [string, string, string];
      for (const [id, c] of copies) expect(covers(c.get(r2), r.begin)).toBe(id === r1);
    }
    // Nobody copies to a server that was already in the chain.
    for (const [, c] of copies) {
      for (const [to, ranges] of c) {
        for (const rg of ranges) expect(ring.replicasOf(rg.begin, 1)).not.toContain(to);
      }
    }
  });

  it('nothing to copy when neither the ring nor k changed', () => {
    const ring = Ring.create(ids, { virtualNodes: 8 });
    for (const id of ids) expect(chainCopies(ring, 2, viewOf(ring, 2), id).size).toBe(0);
  });
});
