// Chain replication under a failure (real TCP, separate OS processes): 4 servers, k = 2 and 3,
// a middle link of the workers' chains SIGKILLed while pushes flow. Its predecessors send what
// it had not acknowledged to their successors on the new ring, its successors are rebuilt by
// copy from theirs: no acknowledged push is lost, and every surviving link holds the exact sums.
import { afterEach, describe, expect, it } from 'vitest';
import { expectChainsHold, type HeldExit, lastRing, ledgerKeys } from '../helpers/chain-ledger.js';
import { exitCode, killAll } from '../helpers/processes.js';
import { finishLedger, progress, startLedgerCluster } from './ledger-cluster.js';

afterEach(killAll);

const KEYS = 400;

describe('chain replication: a middle link SIGKILLed while pushes flow', () => {
  for (const k of [2, 3]) {
    it(`4 servers, k = ${k}: no acknowledged push lost, the surviving links hold the exact ledger`, async () => {
      const c = await startLedgerCluster({
        servers: 4,
        workers: 2,
        env: {
          LEDGER_REPLICAS: String(k),
          LEDGER_KEYS: String(KEYS),
          // A killed server's closed connections get it declared dead in a quarter of this; a
          // slow one is not declared dead on a loaded machine before the kill.
          LEDGER_HEARTBEAT_MS: '8000',
          LEDGER_ACK_EVERY: '5',
          LEDGER_DUMP: '1',
        },
      });
      await progress(c.workers, 20);
      const victim = 1;
      const victimId = c.serverIds[victim]!;
      expect(lastRing(c.scheduler).servers.length, 'every server alive before the kill').toBe(4);
      // The victim is a middle link (neither master nor tail) of some of the keys being pushed.
      const ring = lastRing(c.scheduler);
      const middle = [0, 1]
        .flatMap((rank) => ledgerKeys(rank, KEYS))
        .filter((key) => {
          const at = ring.replicasOf(key, k).indexOf(victimId);
          return at > 0 && at < k;
        }).length;
      expect(middle).toBeGreaterThan(0);
      process.kill(c.servers[victim]!.pid, 'SIGKILL');
      await c.scheduler.waitFor<{ event: string; dead: string[] }>(
        (o) => o.event === 'view' && o.dead.includes(victimId),
        30_000,
      );
      await progress(c.workers, 20);
      const res = await finishLedger(c);
      for (const r of res) {
        expect(r.failed, JSON.stringify(r)).toBe(0);
        expect(r.acked).toBe(r.issued);
      }
      const live = c.servers.filter((_, i) => i !== victim);
      const exits = await Promise.all(
        live.map((s) => s.waitFor<HeldExit>((o) => o.event === 'exit', 60_000)),
      );
      for (const s of live) expect(await exitCode(s, 60_000)).toBe(0);
      const after = lastRing(c.scheduler);
      expect(after.has(victimId)).toBe(false);
      expectChainsHold(after, k, exits, KEYS, new Map(res.map((r) => [r.rank, r.issued])));
      console.log(
        `k = ${k}: middle link of ${middle} keys killed; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, every surviving link exact`,
      );
    }, 300_000);
  }
});
