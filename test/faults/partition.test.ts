// Partitions, delay and packet loss between network namespaces, on real processes over real TCP:
// the scheduler, each server and each worker run in a namespace of their own (netns.ts), joined
// by a bridge; a partition is iptables DROP inside the namespaces (TCP connections stall, no
// reset: the worst case for a timeout), healed by deleting the rules. Each case keeps a ledger:
// every worker's wait() settles, and the pulled totals equal the acknowledged pushes exactly
// (a push whose wait rejected may have landed on some servers: its amount is allowed, not
// required). `npm run test:faults` runs this suite (after `npm run build`). Root only; on a
// machine where `ip netns` is refused the suite fails with the reason, it never skips.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitCode, killAll } from '../helpers/processes.js';
import {
  ackTimes,
  finishLedger as finish,
  type LedgerCluster,
  type LedgerResult,
  progress as progressOf,
  startLedgerCluster,
} from './ledger-cluster.js';
import { NetnsLab, netnsProblem } from './netns.js';

const SCHEDULER_PORT = 7070;
// Hosts of the lab: 0 the scheduler, 1..3 the servers, 4..5 the workers.
const SCHED = 0;
const SERVER = [1, 2, 3] as const;
const WORKER = [4, 5] as const;

let lab: NetnsLab | undefined;

beforeAll(() => {
  const problem = netnsProblem();
  expect(problem, problem).toBeUndefined();
  lab = new NetnsLab(6);
});
afterEach(async () => {
  await killAll();
  lab?.heal();
});
afterAll(async () => {
  await killAll();
  lab?.destroy();
  expect(lab?.remaining() ?? [], 'namespaces left behind').toEqual([]);
});

function labOf(): NetnsLab {
  if (!lab) throw new Error('the namespaces were not made (see beforeAll)');
  return lab;
}

/** Three servers (replicas 1) and two workers, each role in a namespace of its own. */
function startCluster(extra: Record<string, string>): Promise<LedgerCluster> {
  const h = labOf().hosts;
  return startLedgerCluster({
    servers: SERVER.length,
    workers: WORKER.length,
    env: { LEDGER_KEYS: '2000', LEDGER_REPLICAS: '1', ...extra },
    at: {
      scheduler: { ...h[SCHED]!, port: SCHEDULER_PORT },
      servers: SERVER.map((i) => h[i]!),
      workers: WORKER.map((i) => h[i]!),
    },
  });
}

const progress = (c: LedgerCluster, more: number, timeoutMs?: number) =>
  progressOf(c.workers, more, timeoutMs);

describe('partitions between network namespaces: every wait settles, the ledger is exact', () => {
  it('a worker cut off from one server past the deadline gets PS_ERR_TIMEOUT naming it; healed, it goes on', async () => {
    const c = await startCluster({ LEDGER_TIMEOUT_MS: '3000', LEDGER_RESEND_MS: '300' });
    await progress(c, 20);
    const l = labOf();
    const cutAt = Date.now();
    l.partition(WORKER[0], SERVER[1]);
    const fail = await c.workers[0]!.waitFor<{ event: string; code: string; message: string }>(
      (o) => o.event === 'push-failed',
      30_000,
    );
    const waited = Date.now() - cutAt;
    expect(fail.code).toBe('PS_ERR_TIMEOUT');
    expect(fail.message).toContain(`server ${c.serverIds[1]}`);
    expect(fail.message).toContain('within 3000 ms');
    // The other worker never lost a link: it keeps being acknowledged meanwhile.
    await progressOf([c.workers[1]!], 20);
    l.heal();
    await progress(c, 20);
    const res = await finish(c);
    const [cut, other] = res as [LedgerResult, LedgerResult]; // in the order of c.workers
    expect(cut.failed).toBeGreaterThan(0);
    expect(Object.keys(cut.codes)).toEqual(['PS_ERR_TIMEOUT']);
    expect(other.failed).toBe(0);
    console.log(
      `worker cut from server ${c.serverIds[1]}: first PS_ERR_TIMEOUT after ${waited} ms; ${cut.failed} of ${cut.issued} pushes timed out, ${cut.acked} + ${other.acked} acknowledged, totals within the ledger`,
    );
  }, 300_000);

  it('a server cut off from the scheduler past the heartbeat timeout is declared dead, learns it when healed, exits; the job completes exactly', async () => {
    const c = await startCluster({ LEDGER_HEARTBEAT_MS: '1500', LEDGER_NODE_HEARTBEAT_MS: '60000' });
    await progress(c, 20);
    const l = labOf();
    const zombie = c.serverIds[1]!;
    const cutAt = Date.now();
    l.partition(SCHED, SERVER[1]);
    const view = await c.scheduler.waitFor<{ event: string; dead: string[]; servers: string[] }>(
      (o) => o.event === 'view' && o.dead.includes(zombie),
      30_000,
    );
    const deadAfter = Date.now() - cutAt;
    expect(view.servers).not.toContain(zombie);
    // The ring without it serves the job; the zombie still reaches workers and peers meanwhile.
    await progress(c, 40);
    const healAt = Date.now();
    l.heal();
    const exit = await c.servers[1]!.waitFor<{ event: string; code?: string; message?: string }>(
      (o) => o.event === 'exit',
      60_000,
    );
    const learnedAfter = Date.now() - healAt;
    expect(exit.code).toBe('PS_ERR_FENCED');
    expect(exit.message).toContain(`${zombie} was declared dead by the scheduler`);
    expect(exit.message).toContain('restart it and it joins as a new node');
    expect(await exitCode(c.servers[1]!, 30_000)).toBe(3);
    await progress(c, 20);
    const res = await finish(c);
    for (const r of res) expect(r.failed, JSON.stringify(r)).toBe(0);
    console.log(
      `zombie server ${zombie}: declared dead ${deadAfter} ms after the cut, learned it and exited ${learnedAfter} ms after the heal; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 300_000);

  it('a master cut off from its replica acknowledges nothing until the replica is declared dead; then the ring without it decides, nothing lost', async () => {
    const c = await startCluster({
      LEDGER_HEARTBEAT_MS: '1500',
      LEDGER_NODE_HEARTBEAT_MS: '60000',
      LEDGER_ACK_EVERY: '1',
    });
    await progress(c, 20);
    const l = labOf();
    // With replicas 1 and three servers on the ring, every server replicates some of another's
    // ranges; each push touches every range, so a cut between two servers holds every push.
    const cutAt = Date.now();
    l.partition(SERVER[0], SERVER[1]);
    // The held window: from a grace (pushes acknowledged before the cut) to when the replica is
    // isolated from the scheduler too, and then until it is declared dead.
    const GRACE_MS = 1500;
    const HELD_MS = 4000;
    await new Promise<void>((resolve) => {
      // Not a wait for a state: the length of the partition under test, over which no ack may come.
      const timer = setTimeout(resolve, HELD_MS);
      timer.unref?.();
    });
    const replica = c.serverIds[1]!;
    l.isolate(SERVER[1]);
    const view = await c.scheduler.waitFor<{ event: string; dead: string[]; t: number }>(
      (o) => o.event === 'view' && o.dead.includes(replica),
      30_000,
    );
    for (const w of c.workers) {
      const held = ackTimes(w).filter((t) => t > cutAt + GRACE_MS && t < view.t);
      expect(held, `acks while the replica link was cut (cut at ${cutAt}, dead at ${view.t})`).toEqual([]);
    }
    await progress(c, 40);
    l.heal();
    const exit = await c.servers[1]!.waitFor<{ event: string; code?: string }>(
      (o) => o.event === 'exit',
      60_000,
    );
    expect(exit.code).toBe('PS_ERR_FENCED');
    const res = await finish(c);
    for (const r of res) expect(r.failed, JSON.stringify(r)).toBe(0);
    console.log(
      `master/replica cut: no ack for ${view.t - cutAt - GRACE_MS} ms until ${replica} was declared dead; ${res.map((r) => r.acked).join(' + ')} pushes acknowledged, all exact`,
    );
  }, 300_000);

  it('delay (fault proxy) and 3% packet loss (iptables) on every worker→server link: the ledger is exact', async () => {
    const l = labOf();
    for (const w of WORKER) for (const s of SERVER) l.loss(w, s, 0.03);
    for (const w of WORKER) for (const s of SERVER) l.loss(s, w, 0.03);
    const c = await startCluster({ LEDGER_PROXY: JSON.stringify({ delayMs: 2, jitterMs: 8 }) });
    const started = Date.now();
    await progress(c, 150, 240_000);
    const res = await finish(c);
    for (const r of res) expect(r.failed, JSON.stringify(r)).toBe(0);
    console.log(
      `delay 2-10 ms and 3% loss: ${res.map((r) => r.acked).join(' + ')} pushes in ${Date.now() - started} ms, all exact`,
    );
  }, 300_000);
});
