// A cluster of fixtures/delivery-node.mjs processes (scheduler, servers, workers pushing known
// values) for the fault tests, and its ledger: every worker's wait() settles and the pulled
// totals equal the acknowledged pushes exactly (a push whose wait rejected may have landed on
// some servers: its amount is allowed, not required).
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { exitCode, type Proc, spawnNode } from '../helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/delivery-node.mjs', import.meta.url));

/** A worker's last line: its ledger checked against the pulled totals. */
export interface LedgerResult {
  event: 'result';
  rank: number;
  issued: number;
  acked: number;
  failed: number;
  settled: number;
  codes: Record<string, number>;
  mismatches: number;
  firstBad?: unknown;
  proxy: { resets: number; stalls: number };
}

export interface LedgerCluster {
  scheduler: Proc;
  schedulerPort: number;
  servers: Proc[];
  workers: Proc[];
  serverIds: string[];
  serverPorts: number[];
}

/** Where each role runs: an address and a command prefix (a network namespace), or 127.0.0.1. */
export interface Placement {
  ip: string;
  prefix: readonly string[];
}

export interface ClusterShape {
  servers: number;
  workers: number;
  /** LEDGER_* and PS_* variables of every role. */
  env: Record<string, string>;
  /** Hosts of the scheduler, servers and workers (default: all on 127.0.0.1, any port). */
  at?: { scheduler: Placement & { port: number }; servers: Placement[]; workers: Placement[] };
}

const local: Placement = { ip: '127.0.0.1', prefix: [] };

/** Starts the scheduler, then the servers and workers; resolves once every worker joined. */
export async function startLedgerCluster(shape: ClusterShape): Promise<LedgerCluster> {
  const at = shape.at ?? {
    scheduler: { ...local, port: 0 },
    servers: Array.from({ length: shape.servers }, () => local),
    workers: Array.from({ length: shape.workers }, () => local),
  };
  const common = {
    PS_NUM_SERVERS: String(shape.servers),
    PS_NUM_WORKERS: String(shape.workers),
    ...shape.env,
  };
  const s = at.scheduler;
  const scheduler = spawnNode(
    script,
    { ...common, PS_ROLE: 'scheduler', PS_HOST: s.ip, PS_SCHEDULER: `${s.ip}:${s.port}` },
    [],
    { prefix: s.prefix },
  );
  const { port } = await scheduler.waitFor<{ event: string; port: number }>((o) => o.event === 'listening');
  const env = { ...common, PS_SCHEDULER: `${s.ip}:${port}` };
  const servers = at.servers.map((h) =>
    spawnNode(script, { ...env, PS_ROLE: 'server', PS_HOST: h.ip }, [], { prefix: h.prefix }),
  );
  const workers = at.workers.map((h) =>
    spawnNode(script, { ...env, PS_ROLE: 'worker', PS_HOST: h.ip }, [], { prefix: h.prefix }),
  );
  const listening = await Promise.all(
    servers.map((p) =>
      p.waitFor<{ event: string; id: string; port: number }>((o) => o.event === 'listening', 60_000),
    ),
  );
  await Promise.all(workers.map((w) => w.waitFor<{ event: string }>((o) => o.event === 'joined', 60_000)));
  return {
    scheduler,
    schedulerPort: port,
    servers,
    workers,
    serverIds: listening.map((l) => l.id),
    serverPorts: listening.map((l) => l.port),
  };
}

/** The pushes worker `w` has acknowledged so far, by its progress lines. */
export function ackedOf(w: Proc): number {
  let n = 0;
  for (const l of w.lines) {
    if (!l.includes('"acked"')) continue;
    const o = JSON.parse(l) as { event?: string; acked?: number };
    if (o.event === 'acked' && (o.acked ?? 0) > n) n = o.acked!;
  }
  return n;
}

/** The ms timestamps (`t`) of worker `w`'s progress lines. */
export function ackTimes(w: Proc): number[] {
  return w.lines
    .filter((l) => l.includes('"acked"'))
    .map((l) => JSON.parse(l) as { event?: string; t: number })
    .filter((o) => o.event === 'acked')
    .map((o) => o.t);
}

/** Waits until each of `workers` acknowledged `more` pushes beyond what it had. */
export async function progress(workers: readonly Proc[], more: number, timeoutMs = 90_000): Promise<void> {
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

/**
 * Stops the workers (SIGUSR2) and checks every ledger (every wait settled; totals within the
 * acknowledged and the failed pushes) and every worker's exit; returns the results in the order
 * of `c.workers`.
 */
export async function finishLedger(c: LedgerCluster): Promise<LedgerResult[]> {
  for (const w of c.workers) process.kill(w.pid, 'SIGUSR2');
  const res = await Promise.all(
    c.workers.map((w) => w.waitFor<LedgerResult>((o) => o.event === 'result', 180_000)),
  );
  for (const r of res) {
    expect(r.settled, JSON.stringify(r)).toBe(r.issued); // every wait() settled
    expect(r.acked + r.failed, JSON.stringify(r)).toBe(r.issued);
    expect(r.mismatches, JSON.stringify(r.firstBad)).toBe(0);
  }
  for (const w of c.workers) expect(await exitCode(w, 60_000)).toBe(0);
  return res;
}
