// The scheduler can restart: SIGKILL it mid-job and start a new one at the same address (with
// recover); the nodes reconnect, register again with their state, and the job completes. Also the
// node→scheduler links reset again and again with `ss -K` (no node declared dead wrongly), a
// barrier in progress when the scheduler dies, a node that does not come back within the
// recovery window, and a second scheduler at the address of a live one. Real processes over TCP
// on 127.0.0.1; each case checks a ledger of acknowledged pushes exactly against pulled totals.
// `npm run test:faults` runs this suite (after `npm run build`: the processes run dist/).
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from '../helpers/processes.js';
import { type LedgerResult, startLedgerCluster } from './ledger-cluster.js';
import { resetPort, ssKillWorks } from './resets.js';

const script = fileURLToPath(new URL('./fixtures/delivery-node.mjs', import.meta.url));
const cli = fileURLToPath(new URL('../../packages/apps/dist/cli.js', import.meta.url));
afterEach(killAll);

/** A worker's ledger line (the fixture's `result`). */
type Result = LedgerResult;

interface View {
  event: 'view';
  t: number;
  version: number;
  epoch: number;
  run: string;
  ring: number;
  servers: string[];
  dead: string[];
}

interface Cluster {
  scheduler: Proc;
  port: number;
  common: Record<string, string>;
  servers: Proc[];
  workers: Proc[];
}

const isView = (o: unknown): o is View => (o as { event?: string }).event === 'view';

async function startCluster(
  servers: number,
  workers: number,
  extra: Record<string, string>,
): Promise<Cluster> {
  // The same variables as every role got, kept to start a new scheduler with them.
  const common = {
    PS_NUM_SERVERS: String(servers),
    PS_NUM_WORKERS: String(workers),
    PS_HOST: '127.0.0.1',
    LEDGER_KEYS: '2000',
    LEDGER_REPLICAS: '1',
    ...extra,
  };
  const c = await startLedgerCluster({ servers, workers, env: common });
  await c.scheduler.waitFor(isView, 30_000);
  return { scheduler: c.scheduler, port: c.schedulerPort, common, servers: c.servers, workers: c.workers };
}

/** The newest view line `p` printed so far. */
function lastView(p: Proc): View {
  const views = p.lines.filter((l) => l.includes('"view"')).map((l) => JSON.parse(l) as View);
  return views[views.length - 1]!;
}

/** SIGKILLs the scheduler and starts a new one at its port with recover; resolves with its first view. */
async function restartScheduler(
  c: Cluster,
  extra: Record<string, string> = {},
): Promise<{ killedAt: number; view: View }> {
  const before = lastView(c.scheduler);
  const killedAt = Date.now();
  process.kill(c.scheduler.pid, 'SIGKILL');
  await exitCode(c.scheduler, 10_000);
  c.scheduler = spawnNode(script, {
    ...c.common,
    ...extra,
    PS_ROLE: 'scheduler',
    PS_SCHEDULER: `127.0.0.1:${c.port}`,
    PS_RECOVER: '1',
  });
  const up = await c.scheduler.waitFor<{ event: string; recovering: boolean }>(
    (o) => o.event === 'listening',
  );
  expect(up.recovering).toBe(true);
  const view = await c.scheduler.waitFor(isView, 60_000);
  // The run goes on: the same run id, an epoch and a version past the last ones seen.
  expect(view.run).toBe(before.run);
  expect(view.epoch).toBeGreaterThan(before.epoch);
  expect(view.version).toBeGreaterThan(before.version);
  return { killedAt, view };
}

function ackedOf(w: Proc): number {
  let n = 0;
  for (const l of w.lines) {
    if (!l.includes('"acked"')) continue;
    const o = JSON.parse(l) as { event?: string; acked?: number };
    if (o.event === 'acked' && (o.acked ?? 0) > n) n = o.acked!;
  }
  return n;
}

/** Waits until each of `workers` acknowledged `more` pushes beyond what it had. */
async function progress(workers: Proc[], more: number, timeoutMs = 60_000): Promise<void> {
  const base = workers.map(ackedOf);
  await Promise.all(
    workers.map((w, i) =>
      w.waitFor<{ event: string; acked: number }>(
        (o) => o.event === 'acked' && o.acked >= base[i]! + more,
        timeoutMs,
      ),
    ),
  );
}

/** Checks each worker's ledger: every wait settled, none failed, the pulled totals exact. */
async function ledgers(c: Cluster): Promise<Result[]> {
  const res = await Promise.all(
    c.workers.map((w) => w.waitFor<Result>((o) => o.event === 'result', 180_000)),
  );
  for (const r of res) {
    expect(r.settled, JSON.stringify(r)).toBe(r.issued);
    expect(r.failed, JSON.stringify(r)).toBe(0);
    expect(r.acked).toBe(r.issued);
    expect(r.mismatches, JSON.stringify(r.firstBad)).toBe(0);
  }
  for (const w of c.workers) expect(await exitCode(w, 60_000), w.stderr.slice(-20).join('\n')).toBe(0);
  expect(await exitCode(c.scheduler, 60_000)).toBe(0);
  return res;
}

/** How many times node `p` has reconnected to the scheduler (its `scheduler-link` lines). */
function linksOf(p: Proc): number {
  return p.lines.filter((l) => l.includes('"scheduler-link"')).length;
}

/**
 * Resets every node→scheduler connection (`ss -K` at the scheduler's port) and waits until every
 * node's link is up again (its handshake done), so the next reset cuts a working link. Returns
 * whether any connection was reset.
 */
async function resetSchedulerLinks(c: Cluster): Promise<boolean> {
  const nodes = [...c.servers, ...c.workers];
  const before = nodes.map(linksOf);
  if (resetPort(c.port, 'sport') === 0) return false;
  try {
    await Promise.all(
      nodes.map((p, i) =>
        p.waitFor<{ event: string; n: number }>(
          (o) => o.event === 'scheduler-link' && o.n > before[i]!,
          30_000,
        ),
      ),
    );
  } catch (err) {
    // Say why: a node declared dead does not come back.
    throw new Error(`${(err as Error).message}\nthe scheduler: ${c.scheduler.stderr.slice(-8).join('\n')}`);
  }
  return true;
}

describe('the scheduler can restart', () => {
  beforeAll(() => {
    expect(ssKillWorks(), 'ss -K must work here (root, SOCK_DESTROY)').toBe(true);
  });

  it('SIGKILLed mid-job and started again at the same address: the job completes, the ledger is exact', async () => {
    const c = await startCluster(3, 2, { PS_RUN: 'restart-a' });
    await progress(c.workers, 20);
    const before = lastView(c.scheduler);
    const { killedAt, view } = await restartScheduler(c, { PS_RUN: 'restart-a' });
    // Every node came back: nobody dead, the servers' ring kept (no range moved).
    expect(view.dead).toEqual([]);
    expect(view.ring).toBe(before.ring);
    expect(view.servers).toEqual(before.servers);
    await progress(c.workers, 20);
    for (const w of c.workers) process.kill(w.pid, 'SIGUSR2');
    const res = await ledgers(c);
    for (const s of c.servers) {
      const exit = await s.waitFor<{ event: string; code?: string }>((o) => o.event === 'exit', 60_000);
      expect(exit.code).toBeUndefined(); // terminated in order, not lost or fenced
    }
    console.log(
      `scheduler restart: recovered view ${view.version} (epoch ${view.epoch}, ring ${view.ring}) ${view.t - killedAt} ms after the SIGKILL; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 300_000);

  it('100 resets of node→scheduler links (ss -K) mid-job and in a barrier: nobody declared dead, the ledger is exact', async () => {
    const c = await startCluster(3, 2, {});
    await progress(c.workers, 10);
    let resets = 0;
    const started = Date.now();
    for (let i = 0; i < 200 && resets < 80 && Date.now() - started < 180_000; i++) {
      if (await resetSchedulerLinks(c)) resets++;
      await progress(c.workers, 1);
    }
    // Worker 0 stops and waits in the barrier while the links keep being reset.
    process.kill(c.workers[0]!.pid, 'SIGUSR2');
    await c.workers[0]!.waitFor<{ event: string }>((o) => o.event === 'pushed', 60_000);
    for (let i = 0; i < 60 && resets < 100 && Date.now() - started < 240_000; i++) {
      if (await resetSchedulerLinks(c)) resets++;
      await progress([c.workers[1]!], 1);
    }
    expect(resets).toBe(100);
    process.kill(c.workers[1]!.pid, 'SIGUSR2');
    const res = await ledgers(c);
    // No view of the run ever listed a dead node.
    const views = c.scheduler.lines.filter((l) => l.includes('"view"')).map((l) => JSON.parse(l) as View);
    expect(views.every((v) => v.dead.length === 0)).toBe(true);
    expect(views[views.length - 1]!.epoch).toBe(views[0]!.epoch);
    console.log(
      `node→scheduler: ${resets} resets in ${Date.now() - started} ms, none declared dead; ${res.map((r) => r.acked).join(' + ')} pushes, all exact`,
    );
  }, 300_000);

  it('down past the transport’s reconnect window (10 s): the nodes dial it again, and the job completes', async () => {
    const c = await startCluster(2, 2, {});
    await progress(c.workers, 10);
    process.kill(c.scheduler.pid, 'SIGKILL');
    await exitCode(c.scheduler, 10_000);
    const killedAt = Date.now();
    // Wait (bounded) until every node's transport gave up and the node dials on its own.
    const nodes = [...c.servers, ...c.workers];
    for (
      let i = 0;
      i < 600 && !nodes.every((p) => p.stderr.some((l) => l.includes('dialing it again')));
      i++
    ) {
      expect(Date.now() - killedAt).toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(nodes.every((p) => p.stderr.some((l) => l.includes('dialing it again')))).toBe(true);
    c.scheduler = spawnNode(script, {
      ...c.common,
      PS_ROLE: 'scheduler',
      PS_SCHEDULER: `127.0.0.1:${c.port}`,
      PS_RECOVER: '1',
    });
    const view = await c.scheduler.waitFor(isView, 60_000);
    expect(view.dead).toEqual([]);
    // Down for about the reconnect window (the transport gives up within one 1 s backoff step of it).
    expect(view.t - killedAt).toBeGreaterThan(8_000);
    await progress(c.workers, 10);
    for (const w of c.workers) process.kill(w.pid, 'SIGUSR2');
    await ledgers(c);
    console.log(
      `scheduler down for ${view.t - killedAt} ms (past the reconnect window): recovered, ledger exact`,
    );
  }, 300_000);

  it('a barrier in progress when the scheduler dies completes after the restart', async () => {
    const c = await startCluster(2, 2, {});
    await progress(c.workers, 10);
    // Worker 0 enters the barrier; worker 1 keeps pushing, so the barrier cannot complete yet.
    process.kill(c.workers[0]!.pid, 'SIGUSR2');
    await c.workers[0]!.waitFor<{ event: string }>((o) => o.event === 'pushed', 60_000);
    // The new scheduler is not told the run: it adopts the one the nodes report.
    const { view } = await restartScheduler(c);
    expect(view.dead).toEqual([]);
    expect(c.workers[0]!.lines.some((l) => l.includes('"barrier-done"'))).toBe(false);
    await progress([c.workers[1]!], 10);
    process.kill(c.workers[1]!.pid, 'SIGUSR2');
    const done = await c.workers[0]!.waitFor<{ event: string; t: number }>(
      (o) => o.event === 'barrier-done',
      60_000,
    );
    expect(done.t).toBeGreaterThanOrEqual(view.t);
    await ledgers(c);
  }, 300_000);

  it('a server that does not come back within the recovery window is declared dead; its replica serves, the ledger is exact', async () => {
    const c = await startCluster(3, 2, { LEDGER_RECOVERY_MS: '3000' });
    await progress(c.workers, 20);
    const victim = c.servers[1]!;
    const before = lastView(c.scheduler);
    // The scheduler and a server die together; only the scheduler is started again.
    process.kill(victim.pid, 'SIGKILL');
    const { view } = await restartScheduler(c);
    expect(view.dead).toHaveLength(1);
    expect(view.servers).toHaveLength(2);
    expect(before.servers).toContain(view.dead[0]);
    expect(view.servers).not.toContain(view.dead[0]);
    await progress(c.workers, 20);
    for (const w of c.workers) process.kill(w.pid, 'SIGUSR2');
    await ledgers(c);
  }, 300_000);

  it('a second scheduler at the address of a live one is refused', async () => {
    const c = await startCluster(1, 1, {});
    const second = spawnNode(script, {
      ...c.common,
      PS_ROLE: 'scheduler',
      PS_SCHEDULER: `127.0.0.1:${c.port}`,
      PS_RECOVER: '1',
    });
    expect(await exitCode(second, 30_000)).not.toBe(0);
    expect(second.stderr.join('\n')).toContain('PS_ERR_BIND');
    await progress(c.workers, 5);
    process.kill(c.workers[0]!.pid, 'SIGUSR2');
    await ledgers(c);
  }, 120_000);

  it('a scheduler started afresh (without recover) at the address: the nodes stop with PS_ERR_RUN_MISMATCH', async () => {
    const c = await startCluster(1, 1, { PS_RUN: 'first-run' });
    await progress(c.workers, 5);
    process.kill(c.scheduler.pid, 'SIGKILL');
    await exitCode(c.scheduler, 10_000);
    c.scheduler = spawnNode(script, {
      ...c.common,
      PS_ROLE: 'scheduler',
      PS_SCHEDULER: `127.0.0.1:${c.port}`,
      PS_RUN: 'second-run',
    });
    const exit = await c.servers[0]!.waitFor<{ event: string; code?: string }>(
      (o) => o.event === 'exit',
      60_000,
    );
    expect(exit.code).toBe('PS_ERR_RUN_MISMATCH');
    expect(await exitCode(c.workers[0]!, 60_000)).not.toBe(0);
    expect(c.workers[0]!.stderr.join('\n')).toContain('PS_ERR_RUN_MISMATCH');
  }, 120_000);

  it('pskv slr --dataset spam with the scheduler SIGKILLed at 40% and started again completes with its summary', async () => {
    const p = spawnNode(cli, {}, [
      'slr',
      '--dataset',
      'spam',
      '--servers',
      '3',
      '--replicas',
      '1',
      '--kill',
      'scheduler@0.4',
      '--json',
    ]);
    const code = await exitCode(p, 240_000);
    expect(code, p.stderr.slice(-40).join('\n')).toBe(0);
    const s = JSON.parse(p.lines[p.lines.length - 1]!) as {
      accuracy: number;
      killed: { role: string; at: number }[];
    };
    expect(s.killed.map((k) => k.role)).toEqual(['ps-scheduler']);
    expect(s.killed[0]!.at).toBeGreaterThanOrEqual(0.4);
    expect(s.accuracy).toBeGreaterThan(0.95);
    console.log(`pskv slr with the scheduler restarted at ${s.killed[0]!.at}: accuracy ${s.accuracy}`);
  }, 300_000);
});
