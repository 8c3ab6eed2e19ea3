// The ledger: workers push known values over real TCP (separate OS processes) while servers are
// SIGKILLed, join and leave; at the end every acknowledged push is in the pulled totals exactly
// once. `npm run test:faults` runs this suite (after `npm run build`: the processes run dist/).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from '../helpers/processes.js';

const script = fileURLToPath(new URL('../fixtures/ledger-node.mjs', import.meta.url));
afterEach(killAll);

interface Result {
  event: 'result';
  rank: number;
  acked: number;
  failed: number;
  mismatches: number;
  firstBad?: unknown;
  why?: string[];
}

async function startCluster(servers: number, workers: number, extra: Record<string, string> = {}) {
  const common = {
    PS_NUM_SERVERS: String(servers),
    PS_NUM_WORKERS: String(workers),
    PS_HOST: '127.0.0.1',
    LEDGER_REPLICAS: '1',
    ...extra,
  };
  const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
  const { port } = await scheduler.waitFor<{ port: number }>(
    (o) => (o as { event?: string }).event === 'listening',
  );
  const env = { ...common, PS_SCHEDULER: `127.0.0.1:${port}` };
  const srv = Array.from({ length: servers }, () => spawnNode(script, { ...env, PS_ROLE: 'server' }));
  const wrk = Array.from({ length: workers }, () => spawnNode(script, { ...env, PS_ROLE: 'worker' }));
  return { scheduler, servers: srv, workers: wrk, env };
}

const acked = (p: Proc, n: number) =>
  p.waitFor<{ event: string; acked: number }>((o) => o.event === 'acked' && o.acked >= n, 60_000);

async function results(workers: Proc[]): Promise<Result[]> {
  const res = await Promise.all(workers.map((w) => w.waitFor<Result>((o) => o.event === 'result', 120_000)));
  // Why a push failed, for the assertion messages: the workers' push-failed lines.
  return res.map((r, i) => ({ ...r, why: workers[i]!.lines.filter((l) => l.includes('push-failed')) }));
}

describe('the ledger: acknowledged pushes survive failures exactly once', () => {
  it('a server SIGKILLed mid-run: its replica takes over, workers resend, duplicates are dropped', async () => {
    const c = await startCluster(3, 2, { LEDGER_PUSHES: '240', LEDGER_IN_FLIGHT: '6' });
    await acked(c.workers[0]!, 40);
    const victim = c.servers[1]!;
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    const view = await c.scheduler.waitFor<{ t: number; ring: number; dead: string[] }>(
      (o) => (o as { event?: string }).event === 'view' && ((o as { dead?: string[] }).dead?.length ?? 0) > 0,
      30_000,
    );
    const res = await results(c.workers);
    for (const r of res) {
      expect(r.failed, JSON.stringify(r)).toBe(0);
      expect(r.acked).toBe(240);
      expect(r.mismatches, JSON.stringify(r.firstBad)).toBe(0);
    }
    // Detection and recovery times, for docs/fault-tolerance.md: the slowest push is one that was
    // in flight to the killed server and was resent to its replica.
    const slowest = await Promise.all(
      c.workers.map((w) => w.waitFor<{ event: string; slowestMs: number }>((o) => o.event === 'pushed')),
    );
    console.log(
      `server SIGKILLed: declared dead and ring ${view.ring} published after ${view.t - killedAt} ms; slowest push ${Math.max(...slowest.map((x) => x.slowestMs))} ms`,
    );
    for (const w of c.workers) expect(await exitCode(w)).toBe(0);
  }, 300_000);

  it('a server joins and another leaves under load, with the ledger exact', async () => {
    const c = await startCluster(2, 2, { LEDGER_PUSHES: '300', LEDGER_IN_FLIGHT: '6', LEDGER_PACE_MS: '15' });
    await acked(c.workers[0]!, 40);
    // A third server joins the running cluster: it takes its ranges by a two-phase copy.
    const joiner = spawnNode(script, { ...c.env, PS_ROLE: 'server' });
    const joined = await c.scheduler.waitFor<{ servers: string[]; ring: number }>(
      (o) =>
        (o as { event?: string }).event === 'view' &&
        ((o as { servers?: string[] }).servers?.length ?? 0) === 3,
      30_000,
    );
    expect(joined.servers).toHaveLength(3);
    await acked(c.workers[0]!, 120);
    // Then one of the first servers leaves gracefully: its ranges go to their next servers.
    const leaver = c.servers[0]!;
    process.kill(leaver.pid, 'SIGUSR2');
    await leaver.waitFor((o) => (o as { event?: string }).event === 'exit', 60_000);
    const after = await c.scheduler.waitFor<{ servers: string[] }>(
      (o) =>
        (o as { event?: string }).event === 'view' &&
        ((o as { servers?: string[] }).servers?.length ?? 0) === 2 &&
        (o as { ring?: number }).ring! > joined.ring,
      30_000,
    );
    expect(after.servers).toHaveLength(2);
    const res = await results(c.workers);
    for (const r of res) {
      expect(r.failed, JSON.stringify(r)).toBe(0);
      expect(r.mismatches, JSON.stringify(r.firstBad)).toBe(0);
    }
    expect(await exitCode(leaver)).toBe(0);
    for (const w of c.workers) expect(await exitCode(w)).toBe(0);
    expect(joiner.lines.some((l) => l.includes('"listening"'))).toBe(true);
  }, 300_000);
});
