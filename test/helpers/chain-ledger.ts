// What the servers of a ledger cluster (test/faults/fixtures/delivery-node.mjs with LEDGER_DUMP)
// must hold under chain replication: every key on each server of its chain with the exact sum
// of the pushes acknowledged, on no other server, and how many keys each server applied at each
// position of a chain (its replication counters' keysByHop).
import { Ring } from '@ps/core';
import { expect } from 'vitest';
import type { Proc } from './processes.js';

/** A server's `exit` line with LEDGER_DUMP set. */
export interface HeldExit {
  event: 'exit';
  id: string;
  counters: { forwarded: number; relayed: number; replicated: number; keysByHop: number[] };
  held: { keys: string[]; vals: number[] };
}

/** The keys of worker `rank` in the fixture (each worker its own, spread over the key space). */
export function ledgerKeys(rank: number, numKeys: number): bigint[] {
  const step = (1n << 64n) / BigInt(numKeys);
  return Array.from({ length: numKeys }, (_, i) => BigInt(i) * step + 977n + BigInt(rank));
}

/** Per key index: the total of `pushes` pushes of the fixture, and how many of them touched it. */
export function ledgerTotals(numKeys: number, pushes: number): { sum: number[]; touched: number[] } {
  const sum = new Array<number>(numKeys).fill(0);
  const touched = new Array<number>(numKeys).fill(0);
  for (let p = 0; p < pushes; p++) {
    for (let i = 0; i < numKeys; i++) {
      if ((i + p) % 3 === 0) continue;
      sum[i]! += (p % 5) + 1;
      touched[i]!++;
    }
  }
  return { sum, touched };
}

/** The ring the scheduler published last (the fixture's `view` lines; default virtual servers). */
export function lastRing(scheduler: Proc): Ring {
  const views = scheduler.lines
    .filter((l) => l.includes('"view"'))
    .map((l) => JSON.parse(l) as { event?: string; servers: string[] })
    .filter((o) => o.event === 'view');
  return Ring.create(views[views.length - 1]!.servers);
}

/**
 * Checks that each worker's keys (`pushes[rank]` pushes each) are held by exactly the servers of
 * their chain on `ring` (master and `k` replicas), with exact sums; returns the keys each server
 * applied at each chain position (1 .. k) by the ring, for comparison with its counters.
 */
export function expectChainsHold(
  ring: Ring,
  k: number,
  exits: readonly HeldExit[],
  numKeys: number,
  pushes: ReadonlyMap<number, number>,
): Map<string, number[]> {
  const held = new Map(
    exits.map((e) => [e.id, new Map(e.held.keys.map((key, i) => [key, e.held.vals[i]!] as const))]),
  );
  const byHop = new Map(exits.map((e) => [e.id, new Array<number>(k + 1).fill(0)]));
  let checked = 0;
  for (const [rank, n] of pushes) {
    const { sum, touched } = ledgerTotals(numKeys, n);
    ledgerKeys(rank, numKeys).forEach((key, i) => {
      const chain = ring.replicasOf(key, k);
      expect(chain.length).toBe(Math.min(k + 1, ring.size));
      for (const [id, table] of held) {
        const at = chain.indexOf(id);
        const got = table.get(key.toString());
        if (at < 0) {
          expect(got, `key ${key} on ${id}, not in its chain ${chain.join(' → ')}`).toBeUndefined();
          continue;
        }
        expect(got, `key ${key} (worker ${rank}) on ${id}, link ${at} of ${chain.join(' → ')}`).toBe(sum[i]);
        if (at > 0) byHop.get(id)![at]! += touched[i]!;
        checked++;
      }
    });
  }
  expect(checked).toBe(pushes.size * numKeys * Math.min(k + 1, ring.size));
  return byHop;
}
