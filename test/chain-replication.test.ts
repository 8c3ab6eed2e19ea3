// Chain replication over real TCP (separate OS processes, 127.0.0.1): 4 servers, k = 2 and 3.
// Once every push is acknowledged, each server of a key's chain (master, replica 1, ..., tail)
// holds exactly the ledger's sum for it and no other server holds it; and each server applied
// every key at the position of the chain the ring gives it: a tail gets its keys from the replica
// before it, never from the master (its counters, not timing).
import { afterEach, describe, expect, it } from 'vitest';
import { finishLedger, startLedgerCluster } from './faults/ledger-cluster.js';
import { expectChainsHold, type HeldExit, lastRing } from './helpers/chain-ledger.js';
import { exitCode, killAll } from './helpers/processes.js';

afterEach(killAll);

const KEYS = 400;
const PUSHES = 30;

describe('chain replication: master → replica 1 → … → tail', () => {
  for (const k of [2, 3]) {
    it(`4 servers, k = ${k}: every link holds the exact ledger, each key arrived down its chain`, async () => {
      const c = await startLedgerCluster({
        servers: 4,
        workers: 2,
        env: {
          LEDGER_REPLICAS: String(k),
          LEDGER_KEYS: String(KEYS),
          LEDGER_MAX_PUSHES: String(PUSHES),
          LEDGER_DUMP: '1',
          // No failure here: a loaded machine must not get a slow server declared dead.
          LEDGER_HEARTBEAT_MS: '20000',
        },
      });
      // Each worker stops by itself after PUSHES pushes (then pulls and checks its ledger).
      await Promise.all(
        c.workers.map((w) => w.waitFor<{ event: string }>((o) => o.event === 'pushed', 120_000)),
      );
      const res = await finishLedger(c);
      for (const r of res) {
        expect(r.acked, JSON.stringify(r)).toBe(PUSHES);
        expect(r.failed, JSON.stringify(r)).toBe(0);
      }
      const exits = await Promise.all(
        c.servers.map((s) => s.waitFor<HeldExit>((o) => o.event === 'exit', 60_000)),
      );
      for (const s of c.servers) expect(await exitCode(s, 60_000)).toBe(0);
      const ring = lastRing(c.scheduler);
      expect([...ring.servers].sort()).toEqual([...c.serverIds].sort());
      const byHop = expectChainsHold(ring, k, exits, KEYS, new Map(res.map((r) => [r.rank, r.issued])));
      for (const e of exits) {
        const want = byHop.get(e.id)!;
        // Keys applied from forwards, by chain position: exactly what the ring gives this server.
        const got = Array.from({ length: k + 1 }, (_, h) => (h === 0 ? 0 : (e.counters.keysByHop[h] ?? 0)));
        expect(got, `${e.id} keys by hop`).toEqual(want);
        expect(
          want.slice(1).every((n) => n > 0),
          `${e.id} is a link at every position`,
        ).toBe(true);
        expect(e.counters.relayed, `${e.id} relays down the chain`).toBeGreaterThan(0);
      }
    }, 240_000);
  }
});
