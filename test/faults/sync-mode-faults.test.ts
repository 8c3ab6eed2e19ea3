// Sync mode (aggregation on servers) under a failure: 3 servers with one replica, 3 workers whose
// push p is iteration p (each iteration's sum applied once by each master and replicated once);
// a master is SIGKILLed mid-run, its replica takes its ranges over and the workers resend what
// was not acknowledged. The ledger stays exact: every acknowledged push is in the pulled totals
// once, and every push settles.
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll } from '../helpers/processes.js';
import { ackedOf, type LedgerResult, progress, startLedgerCluster } from './ledger-cluster.js';

afterEach(killAll);

describe('sync mode under faults: the ledger of acknowledged pushes is exact', () => {
  it('a master SIGKILLed in sync mode: its replica takes over, no acknowledged push lost or doubled', async () => {
    const pushes = 150;
    const c = await startLedgerCluster({
      servers: 3,
      workers: 3,
      env: {
        LEDGER_SYNC: '1',
        LEDGER_KEYS: '2000',
        LEDGER_REPLICAS: '1',
        LEDGER_HEARTBEAT_MS: '1500',
        LEDGER_MAX_PUSHES: String(pushes),
        LEDGER_ACK_EVERY: '5',
      },
    });
    await progress(c.workers, 30);
    const victim = c.servers[1]!;
    const ackedBefore = c.workers.map(ackedOf);
    process.kill(victim.pid, 'SIGKILL');
    await c.scheduler.waitFor<{ event: string; dead: string[] }>(
      (o) => o.event === 'view' && o.dead.length > 0,
      30_000,
    );
    const res = await Promise.all(
      c.workers.map((w) => w.waitFor<LedgerResult>((o) => o.event === 'result', 180_000)),
    );
    for (const [i, r] of res.entries()) {
      expect(r.issued, JSON.stringify(r)).toBe(pushes);
      expect(r.settled, JSON.stringify(r)).toBe(r.issued); // every wait() settled
      expect(r.failed, JSON.stringify(r)).toBe(0);
      expect(r.acked).toBe(pushes);
      expect(r.acked).toBeGreaterThan(ackedBefore[i]!); // pushes went on after the kill
      expect(r.mismatches, JSON.stringify(r.firstBad)).toBe(0);
    }
    for (const w of c.workers) expect(await exitCode(w, 60_000)).toBe(0);
    // Replication after aggregation: a master forwards one sum per iteration to each replica of
    // its ranges (at most 2 here), not one forward per worker push (3 per iteration).
    for (const s of c.servers.filter((s) => s !== victim)) {
      const exit = await s.waitFor<{ event: string; counters: { forwarded: number }; sync?: unknown }>(
        (o) => o.event === 'exit',
        60_000,
      );
      console.log(`server forwards: ${JSON.stringify(exit.counters)}, sync: ${JSON.stringify(exit.sync)}`);
      expect(exit.counters.forwarded).toBeLessThanOrEqual(2 * pushes + 3 * 10);
    }
  }, 400_000);
});
