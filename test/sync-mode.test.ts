// Sync mode (aggregation on servers) over real TCP, every role a separate OS process: W = 3
// workers push known values for several iterations; each server sums an iteration's pushes of
// the live workers, applies its SGD rule once to the sum and replicates the sum once, so every
// worker's pull of iteration t + 1 reads exactly the model of that schedule, and the replica's
// table equals the master's bit for bit. A worker SIGKILLed mid-iteration is dropped from it.
import { fileURLToPath } from 'node:url';
import { sgdHandler } from '@ps/core';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/sync-node.mjs', import.meta.url));
afterEach(killAll);

const step = (1n << 64n) / 16n;
const allKeys = BigUint64Array.from({ length: 16 }, (_, i) => BigInt(i) * step + 12_345n);

/** What worker `rank` pushes in iteration `t` (as in the fixture). */
function pushOf(rank: number, t: number) {
  const idx: number[] = [];
  for (let i = 0; i < allKeys.length; i++) if ((i + rank + t) % 3 !== 0) idx.push(i);
  return {
    keys: BigUint64Array.from(idx, (i) => allKeys[i]!),
    vals: Float32Array.from(idx, (i) => ((rank + 1) * ((i % 4) + 1)) / 4 - t / 8),
  };
}

/** The dense sum over the model's keys of the pushes of `ranks` in iteration `t`. */
function sumOf(ranks: readonly number[], t: number) {
  const vals = new Float32Array(allKeys.length);
  for (const r of ranks) {
    const p = pushOf(r, t);
    p.keys.forEach((k, j) => {
      const i = allKeys.indexOf(k);
      vals[i] = vals[i]! + p.vals[j]!;
    });
  }
  return vals;
}

/**
 * The model after each iteration when the rule runs once per iteration on the sum of the pushes
 * of `ranksAt(t)` (`once`), or once per push (`!once`), computed with the same handler in-process.
 */
function schedule(iterations: number, ranksAt: (t: number) => number[], once: boolean): number[][] {
  const h = sgdHandler({ lr: 0.5, l2: 0.5 });
  const models: number[][] = [];
  for (let t = 0; t < iterations; t++) {
    const ranks = ranksAt(t);
    const pushes = once ? [{ keys: allKeys, vals: sumOf(ranks, t) }] : ranks.map((r) => pushOf(r, t));
    for (const kv of pushes) h({ sender: 'model', app: 0, ts: 0, push: true, pull: false, kv });
    const got = h({
      sender: 'model',
      app: 0,
      ts: 0,
      push: false,
      pull: true,
      kv: { keys: allKeys, vals: new Float32Array(0) },
    });
    models.push([...got!.vals]);
  }
  return models;
}

async function startCluster(workers: number, env: Record<string, string>) {
  const common = { PS_NUM_SERVERS: '2', PS_NUM_WORKERS: String(workers), PS_HOST: '127.0.0.1', ...env };
  const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
  const { port } = await scheduler.waitFor<{ event: string; port: number }>((o) => o.event === 'listening');
  const all = { ...common, PS_SCHEDULER: `127.0.0.1:${port}` };
  const servers = [0, 1].map(() => spawnNode(script, { ...all, PS_ROLE: 'server' }));
  const wrk = Array.from({ length: workers }, () => spawnNode(script, { ...all, PS_ROLE: 'worker' }));
  const ranks = await Promise.all(
    wrk.map((w) => w.waitFor<{ event: string; rank: number }>((o) => o.event === 'joined', 60_000)),
  );
  // Index the worker processes by rank.
  const byRank: Proc[] = [];
  ranks.forEach((r, i) => {
    byRank[r.rank] = wrk[i]!;
  });
  return { scheduler, servers, workers: byRank };
}

interface Table {
  event: 'table';
  id: string;
  keys: string[];
  hex: string;
  counters: { forwarded: number; replicated: number; replicaBytes: number };
  iterations: { iterations: number; late: number; duplicateKeys: number };
}

async function tables(servers: Proc[]): Promise<Table[]> {
  for (const s of servers) process.kill(s.pid, 'SIGUSR2');
  return Promise.all(servers.map((s) => s.waitFor<Table>((o) => o.event === 'table', 30_000)));
}

async function models(w: Proc, iterations: number): Promise<number[][]> {
  await w.waitFor<{ event: string }>((o) => o.event === 'done', 120_000);
  const lines = w.lines.map((l) => JSON.parse(l) as { event: string; iteration: number; vals: number[] });
  const m = lines.filter((o) => o.event === 'model').sort((a, b) => a.iteration - b.iteration);
  expect(m.map((o) => o.iteration)).toEqual([...Array(iterations).keys()]);
  return m.map((o) => o.vals);
}

describe('sync mode: aggregation on servers, replication after aggregation', () => {
  it.each([
    ['hashed', '0'],
    ['dense', '1'],
  ])(
    '3 workers, 5 iterations, %s store: each iteration sum applied once, replicas equal the master bit for bit',
    async (_store, dense) => {
      const iterations = 5;
      const c = await startCluster(3, {
        SYNC_ITERATIONS: String(iterations),
        SYNC_REPLICAS: '1',
        SYNC_DENSE: dense,
      });
      const want = schedule(iterations, () => [0, 1, 2], true);
      const oneByOne = schedule(iterations, () => [0, 1, 2], false);
      expect(want).not.toEqual(oneByOne); // the test tells the two apart
      for (const w of c.workers) expect(await models(w, iterations)).toEqual(want);
      const [a, b] = await tables(c.servers);
      // With 2 servers and one replica, each holds every key: as master of its ranges, as replica
      // of the other's; both tables are the same bytes.
      expect(a!.keys).toEqual([...allKeys].map(String));
      expect(b!.keys).toEqual(a!.keys);
      expect(b!.hex).toBe(a!.hex);
      // One forward per iteration from each master (not one per push), each applied once there.
      for (const t of [a!, b!]) {
        expect(t.iterations).toEqual({ iterations, late: 0, duplicateKeys: 0 });
        expect(t.counters.forwarded).toBe(iterations);
        expect(t.counters.replicated).toBe(iterations);
        expect(t.counters.replicaBytes).toBeGreaterThan(0);
      }
      for (const w of c.workers) process.kill(w.pid, 'SIGUSR2');
      for (const p of [...c.workers, ...c.servers, c.scheduler]) expect(await exitCode(p, 60_000)).toBe(0);
    },
    180_000,
  );

  it('a worker SIGKILLed mid-iteration is dropped from it: the others complete it without it', async () => {
    const iterations = 4;
    const pauseAt = 2;
    const c = await startCluster(3, {
      SYNC_ITERATIONS: String(iterations),
      SYNC_REPLICAS: '1',
      SYNC_PAUSE: `2:${pauseAt}`,
      SYNC_HEARTBEAT_MS: '1500',
    });
    const victim = c.workers[2]!;
    await victim.waitFor<{ event: string }>((o) => o.event === 'paused', 120_000);
    // Workers 0 and 1 have pushed iteration 2 (or will): it stays open while worker 2 lives.
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    await c.scheduler.waitFor<{ event: string; dead: string[] }>(
      (o) => o.event === 'view' && o.dead.length === 1,
      30_000,
    );
    const want = schedule(iterations, (t) => (t < pauseAt ? [0, 1, 2] : [0, 1]), true);
    for (const w of [c.workers[0]!, c.workers[1]!]) {
      expect(await models(w, iterations)).toEqual(want);
      // Iteration 2 was held open for worker 2 until it died: its pull came back after the kill.
      const at = w.lines
        .map((l) => JSON.parse(l) as { event: string; iteration: number; t: number })
        .find((o) => o.event === 'model' && o.iteration === pauseAt)!.t;
      expect(at).toBeGreaterThanOrEqual(killedAt);
    }
    const [a, b] = await tables(c.servers);
    expect(b!.hex).toBe(a!.hex);
    for (const t of [a!, b!]) expect(t.iterations).toEqual({ iterations, late: 0, duplicateKeys: 0 });
    for (const w of [c.workers[0]!, c.workers[1]!]) process.kill(w.pid, 'SIGUSR2');
    for (const p of [c.workers[0]!, c.workers[1]!, ...c.servers, c.scheduler])
      expect(await exitCode(p, 60_000)).toBe(0);
  }, 180_000);
});
