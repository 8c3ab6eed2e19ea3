import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc } from '../helpers/processes.js';
import { ackedOf, type LedgerResult, startLedgerCluster } from './ledger-cluster.js';
import { resetLinksFrom, ssKillWorks } from './resets.js';

afterEach(killAll);

/** A worker's ledger line (the fixture's `result`). */
type Result = LedgerResult;

interface Cluster {
  scheduler: Proc;
  servers: Proc[];
  workers: Proc[];
  serverPorts: number[];
  serverPids: number[];
  workerPids: number[];
}

async function startCluster(
  servers: number,
  workers: number,
  extra: Record<string, string>,
): Promise<Cluster> {
  const c = await startLedgerCluster({ servers, workers, env: extra });
  return {
    ...c,
    serverPids: c.servers.map((s) => s.pid),
    workerPids: c.workers.map((w) => w.pid),
  };
}

/** Waits until every worker acknowledged at least `more` pushes beyond `from` (per worker). */
async function progress(c: Cluster, more: number, timeoutMs = 60_000): Promise<void> {
  const base = c.workers.map(ackedOf);
  await Promise.all(
    c.workers.map((w, i) =>
      w.waitFor<{ event: string; acked: number }>(
        (o) => o.event === 'acked' && o.acked >= base[i]! + more,
        timeoutMs,
      ),
    ),
  );
}

/** Stops the workers' pushing (SIGUSR2) and checks each worker's ledger. */
async function finish(c: Cluster): Promise<Result[]> {
  for (const w of c.workers) process.kill(w.pid, 'SIGUSR2');
  const res = await Promise.all(
    c.workers.map((w) => w.waitFor<Result>((o) => o.event === 'result', 180_000)),
  );
  for (const r of res) {
    expect(r.settled, JSON.stringify(r)).toBe(r.issued); // every wait() settled
    expect(r.failed, JSON.stringify(r)).toBe(0);
    expect(r.acked).toBe(r.issued);
    expect(r.mismatches, JSON.stringify(r.firstBad)).toBe(0);
  }
  for (const w of c.workers) expect(await exitCode(w, 60_000)).toBe(0);
  return res;
}

// Hundreds of resets of each link kind over a run, each mid-flight (the workers push
// throughout); the job recovers from each pair before the next (a progress line every 5 acks).
const RESETS = 200;
/** Resets of a master's replica links held down before it is SIGKILLed. */
const HOLD_RESETS = 60;

describe('delivery under connection faults: every wait settles, the ledger is exact', () => {
  beforeAll(() => {
    // This suite needs the kernel's SOCK_DESTROY (ss -K) and root; fail loudly, never skip.
    expect(ssKillWorks(), 'ss -K must work here (root, SOCK_DESTROY)').toBe(true);
  }, 400_000);

  it(`${RESETS} resets of worker→server links mid-flight (ss -K, both ends in turn)`, async () => {
    const c = await startCluster(3, 2, { LEDGER_KEYS: '2000', LEDGER_REPLICAS: '1', LEDGER_ACK_EVERY: '5' });
    await progress(c, 20);
    let resets = 0;
    const started = Date.now();
    for (let i = 0; i < 3 * RESETS && resets < RESETS && Date.now() - started < 300_000; i++) {
      const port = c.serverPorts[i % c.serverPorts.length]!;
      const n = resetLinksFrom(c.workerPids, port, i % 2 === 0 ? 'dialer' : 'acceptor');
      if (n > 0) resets++;
      if (i % 2 === 1) await progress(c, 2); // the job recovers from each pair before the next
    }
    expect(resets).toBeGreaterThanOrEqual(RESETS);
    const res = await finish(c);
    console.log(
      `worker→server: ${resets} resets in ${Date.now() - started} ms; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 400_000);

  it(`${RESETS} resets of master→replica links mid-flight (ss -K), replicas 1`, async () => {
    const c = await startCluster(3, 2, { LEDGER_KEYS: '2000', LEDGER_REPLICAS: '1', LEDGER_ACK_EVERY: '5' });
    await progress(c, 20);
    let resets = 0;
    const started = Date.now();
    for (let i = 0; i < 3 * RESETS && resets < RESETS && Date.now() - started < 300_000; i++) {
      const port = c.serverPorts[i % c.serverPorts.length]!;
      const n = resetLinksFrom(c.serverPids, port, i % 2 === 0 ? 'dialer' : 'acceptor');
      if (n > 0) resets++;
      if (i % 2 === 1) await progress(c, 2);
    }
    expect(resets).toBeGreaterThanOrEqual(RESETS);
    const res = await finish(c);
    console.log(
      `master→replica: ${resets} resets in ${Date.now() - started} ms; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 400_000);

  it('every link to a server through a fault proxy: delayed, reset after random bytes, stalled then reset', async () => {
    const proxy = { delayMs: 1, jitterMs: 6, resetBytes: 150_000, stallRatio: 0.3, stallMs: 400 };
    const c = await startCluster(3, 2, {
      LEDGER_KEYS: '2000',
      LEDGER_REPLICAS: '1',
      LEDGER_PROXY: JSON.stringify(proxy),
    });
    const started = Date.now();
    await progress(c, 400, 240_000);
    const res = await finish(c);
    const exits = await Promise.all(
      c.servers.map((s) =>
        s.waitFor<{ event: string; proxy: { resets: number; stalls: number } }>(
          (o) => o.event === 'exit',
          60_000,
        ),
      ),
    );
    const workerResets = res.reduce((n, r) => n + r.proxy.resets, 0);
    const serverResets = exits.reduce((n, e) => n + e.proxy.resets, 0);
    const stalls = [...res.map((r) => r.proxy.stalls), ...exits.map((e) => e.proxy.stalls)].reduce(
      (a, b) => a + b,
      0,
    );
    console.log(
      `fault proxy: ${workerResets} worker→server and ${serverResets} server→server resets (${stalls} after a stall) in ${Date.now() - started} ms; ${res.map((r) => r.acked).join(' + ')} pushes, all exact`,
    );
    expect(workerResets).toBeGreaterThanOrEqual(50);
    expect(serverResets).toBeGreaterThanOrEqual(50);
  }, 400_000);

  it('a master SIGKILLed while its links to its replicas are reset again and again: no acknowledged push is lost', async () => {
    const c = await startCluster(3, 2, {
      LEDGER_KEYS: '2000',
      LEDGER_REPLICAS: '1',
      LEDGER_HEARTBEAT_MS: '1500',
    });
    await progress(c, 20);
    const victim = 1;
    const others = c.serverPorts.filter((_, i) => i !== victim);
    // Hold the victim's links to the other servers (its replicas) down: reset them as soon as
    // they come back (the transport redials with backoff), HOLD_RESETS times, then SIGKILL it.
    let resets = 0;
    const started = Date.now();
    for (let i = 0; i < 20_000 && resets < HOLD_RESETS && Date.now() - started < 60_000; i++) {
      for (const port of others) resets += resetLinksFrom([c.serverPids[victim]!], port, 'dialer');
      await new Promise((r) => setTimeout(r, 2));
    }
    const heldMs = Date.now() - started;
    process.kill(c.serverPids[victim]!, 'SIGKILL');
    expect(resets).toBeGreaterThanOrEqual(HOLD_RESETS);
    await c.scheduler.waitFor<{ event: string; dead: string[] }>(
      (o) => o.event === 'view' && o.dead.length > 0,
      30_000,
    );
    await progress(c, 40);
    const res = await finish(c);
    console.log(
      `master killed after ${resets} resets of its replica links in ${heldMs} ms: ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, none lost`,
    );
  }, 400_000);
});
