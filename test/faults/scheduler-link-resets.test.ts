// Resets of the links every node keeps to the scheduler (heartbeats, views, barriers), hundreds
// over a run with `ss -K` (both ends in turn), then of every kind of link at once: worker→server,
// master→replica and node→scheduler. Real processes over TCP on 127.0.0.1; the workers push
// throughout, and each case keeps the exact ledger of delivery.test.ts. A node whose scheduler
// link is reset redials at once, so it must never be declared dead for it.
import { execFileSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll } from '../helpers/processes.js';
import { finishLedger, type LedgerCluster, progress, startLedgerCluster } from './ledger-cluster.js';
import { resetLinksFrom, resetPort, ssKillWorks } from './resets.js';

afterEach(killAll);

const RESETS = 300;
/** Resets in the case that mixes every link kind. */
const MIXED = 120;

/** Established connections dialed to `port` on 127.0.0.1 (`ss` without -p: no /proc scan). */
function linksTo(port: number): number {
  const text = execFileSync(
    'ss',
    ['-tnH', 'state', 'established', 'dst', '127.0.0.1', 'dport', '=', `:${port}`],
    {
      encoding: 'utf8',
    },
  );
  return text.split('\n').filter((l) => l.includes('127.0.0.1')).length;
}

/** Waits until `n` connections to `port` are established again (polls `ss`, bounded); the ms it took. */
async function relinked(port: number, n: number, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < 10_000 && Date.now() - started < timeoutMs; i++) {
    if (linksTo(port) >= n) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(
    `only ${linksTo(port)} of ${n} connections to port ${port} came back within ${timeoutMs} ms`,
  );
}

function start(): Promise<LedgerCluster> {
  return startLedgerCluster({
    servers: 3,
    workers: 2,
    // A heartbeat timeout of 6 s: a node whose scheduler link is reset is declared dead when it
    // has not reconnected within a quarter of it (and was silent for half); with the default 2 s,
    // a reconnect slower than 500 ms on a loaded machine gets a healthy node fenced.
    env: {
      PS_HOST: '127.0.0.1',
      LEDGER_KEYS: '2000',
      LEDGER_REPLICAS: '1',
      LEDGER_ACK_EVERY: '5',
      LEDGER_HEARTBEAT_MS: '6000',
    },
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

  it(`${RESETS} resets of node→scheduler links (all nodes' links at once, ends in turn)`, async () => {
    const c = await start();
    await progress(c.workers, 20);
    const nodes = c.servers.length + c.workers.length;
    await relinked(c.schedulerPort, nodes);
    let resets = 0;
    let rounds = 0;
    let slowest = 0;
    const started = Date.now();
    for (let i = 0; i < RESETS && resets < RESETS && Date.now() - started < 240_000; i++) {
      // Every node's link at once, at the nodes' end or at the scheduler's: all redial together.
      resets += resetPort(c.schedulerPort, i % 2 === 0 ? 'dport' : 'sport');
      rounds++;
      slowest = Math.max(slowest, await relinked(c.schedulerPort, nodes));
      if (rounds % 10 === 0) await progress(c.workers, 5); // the job goes on meanwhile
    }
    expect(resets).toBeGreaterThanOrEqual(RESETS);
    const res = await finishLedger(c);
    expect(deaths(c)).toEqual([]);
    for (const r of res) expect(r.failed, JSON.stringify(r)).toBe(0);
    console.log(
      `node→scheduler: ${resets} resets in ${rounds} rounds, ${Date.now() - started} ms (slowest round to reconnect all ${nodes}: ${slowest} ms); nobody declared dead; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 400_000);

  it(`${MIXED} resets spread over every link kind at once (worker→server, master→replica, node→scheduler)`, async () => {
    const c = await start();
    await progress(c.workers, 20);
    const serverPids = c.servers.map((p) => p.pid);
    const workerPids = c.workers.map((p) => p.pid);
    const nodePids = [...serverPids, ...workerPids];
    const kinds = { 'worker→server': 0, 'master→replica': 0, 'node→scheduler': 0 };
    let resets = 0;
    const started = Date.now();
    for (let i = 0; i < 3 * MIXED && resets < MIXED && Date.now() - started < 240_000; i++) {
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
      // The job recovers from each round of three resets (one of each kind) before the next.
      if (i % 3 === 2) await progress(c.workers, 5);
    }
    expect(resets).toBe(MIXED);
    for (const n of Object.values(kinds)) expect(n).toBeGreaterThanOrEqual(MIXED / 4);
    const res = await finishLedger(c);
    expect(deaths(c)).toEqual([]);
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
