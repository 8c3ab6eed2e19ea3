// Resets of the links every node keeps to the scheduler (heartbeats, views, barriers), hundreds
// over a run with `ss -K` (both ends in turn), then of every kind of link at once: worker→server,
// master→replica and node→scheduler. Real processes over TCP on 127.0.0.1; the workers push
// throughout, and each case keeps the exact ledger of delivery.test.ts. A node whose scheduler
// link is reset redials at once, so it must never be declared dead for it.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll } from '../helpers/processes.js';
import { finishLedger, type LedgerCluster, progress, startLedgerCluster } from './ledger-cluster.js';
import { resetLinksFrom, socketsOf, ssKillWorks } from './resets.js';

afterEach(killAll);

const RESETS = 300;

/** Waits until process `pid` has an established connection to `port` again (polls `ss`, bounded). */
async function relinked(pid: number, port: number, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < 10_000 && Date.now() - started < timeoutMs; i++) {
    if (socketsOf(port).some((r) => r.pid === pid && r.peerPort === port)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`process ${pid} did not reconnect to port ${port} within ${timeoutMs} ms`);
}

function start(): Promise<LedgerCluster> {
  return startLedgerCluster({
    servers: 3,
    workers: 2,
    env: { PS_HOST: '127.0.0.1', LEDGER_KEYS: '2000', LEDGER_REPLICAS: '1', LEDGER_ACK_EVERY: '5' },
  });
}

/** Every view the scheduler published that lists a dead node. */
function deaths(c: LedgerCluster): string[] {
  return c.scheduler.lines.filter((l) => l.includes('"view"') && !l.includes('"dead":[]'));
}

describe('resets of node→scheduler links and of every link kind: nobody is declared dead, the ledger is exact', () => {
  beforeAll(() => {
    // Needs the kernel's SOCK_DESTROY (ss -K) and root; fail loudly, never skip.
    expect(ssKillWorks(), 'ss -K must work here (root, SOCK_DESTROY)').toBe(true);
  });

  it(`${RESETS} resets of node→scheduler links (every server and worker in turn)`, async () => {
    const c = await start();
    await progress(c.workers, 20);
    const pids = [...c.servers, ...c.workers].map((p) => p.pid);
    let resets = 0;
    let slowest = 0;
    const started = Date.now();
    for (let i = 0; i < 3 * RESETS && resets < RESETS && Date.now() - started < 240_000; i++) {
      const pid = pids[i % pids.length]!;
      if (resetLinksFrom([pid], c.schedulerPort, i % 2 === 0 ? 'dialer' : 'acceptor') === 0) continue;
      resets++;
      slowest = Math.max(slowest, await relinked(pid, c.schedulerPort));
      if (resets % 25 === 0) await progress(c.workers, 5); // the job goes on meanwhile
    }
    expect(resets).toBe(RESETS);
    expect(deaths(c)).toEqual([]);
    const res = await finishLedger(c);
    for (const r of res) expect(r.failed, JSON.stringify(r)).toBe(0);
    console.log(
      `node→scheduler: ${resets} resets in ${Date.now() - started} ms (slowest reconnect ${slowest} ms); nobody declared dead; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 400_000);

  it(`${RESETS} resets spread over every link kind at once (worker→server, master→replica, node→scheduler)`, async () => {
    const c = await start();
    await progress(c.workers, 20);
    const serverPids = c.servers.map((p) => p.pid);
    const workerPids = c.workers.map((p) => p.pid);
    const nodePids = [...serverPids, ...workerPids];
    const kinds = { 'worker→server': 0, 'master→replica': 0, 'node→scheduler': 0 };
    let resets = 0;
    const started = Date.now();
    for (let i = 0; i < 3 * RESETS && resets < RESETS && Date.now() - started < 240_000; i++) {
      const end = i % 2 === 0 ? 'dialer' : 'acceptor';
      const port = c.serverPorts[i % c.serverPorts.length]!;
      const kind = (['worker→server', 'master→replica', 'node→scheduler'] as const)[i % 3]!;
      const n =
        kind === 'worker→server'
          ? resetLinksFrom(workerPids, port, end)
          : kind === 'master→replica'
            ? resetLinksFrom(serverPids, port, end)
            : resetLinksFrom(nodePids, c.schedulerPort, end);
      if (n === 0) continue;
      resets++;
      kinds[kind]++;
      await progress(c.workers, 5); // the job recovers from each reset before the next
    }
    expect(resets).toBe(RESETS);
    for (const n of Object.values(kinds)) expect(n).toBeGreaterThanOrEqual(RESETS / 4);
    expect(deaths(c)).toEqual([]);
    const res = await finishLedger(c);
    for (const r of res) expect(r.failed, JSON.stringify(r)).toBe(0);
    console.log(
      `every link kind: ${resets} resets (${Object.entries(kinds)
        .map(([k, n]) => `${n} ${k}`)
        .join(
          ', ',
        )}) in ${Date.now() - started} ms; nobody declared dead; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 400_000);
});
