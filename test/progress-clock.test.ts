// The cross-worker bounded delay (OSDI 2014, section 3.5, Figure 13) with real processes over TCP
// on 127.0.0.1: a scheduler, a server and 3 workers, one of them a straggler. Each worker prints
// the progress clock it started every iteration with; the bound is checked from those records:
// with delay τ, a worker starts iteration s only once every live worker finished s − 1 − τ. Also:
// τ = 0 runs in lockstep, a worker SIGKILLed mid-run holds the others back only until the
// scheduler declares it dead, and a scheduler SIGKILLed and restarted (recover) keeps the clock.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const fixture = fileURLToPath(new URL('./fixtures/progress-node.mjs', import.meta.url));
afterEach(killAll);

interface Start {
  event: 'start';
  id: string;
  s: number;
  version: number;
  finished: Record<string, number>;
  at: number;
}

const isStart = (o: unknown): o is Start => (o as { event?: string }).event === 'start';

async function startCluster(workers: Record<string, string>[], env: Record<string, string>) {
  const common = { PS_NUM_SERVERS: '1', PS_NUM_WORKERS: String(workers.length), ...env };
  const scheduler = spawnNode(fixture, {
    ...common,
    PS_ROLE: 'scheduler',
    PS_SCHEDULER: '127.0.0.1:0',
    PS_RUN: 'progress-test',
  });
  const { port } = await scheduler.waitFor<{ event: string; port: number }>((o) => o.event === 'listening');
  const at = { ...common, PS_SCHEDULER: `127.0.0.1:${port}` };
  const server = spawnNode(fixture, { ...at, PS_ROLE: 'server' });
  const procs = workers.map((w) => spawnNode(fixture, { ...at, ...w, PS_ROLE: 'worker' }));
  const ids = await Promise.all(
    procs.map(async (p) => (await p.waitFor<{ event: string; id: string }>((o) => o.event === 'joined')).id),
  );
  return { scheduler, server, workers: procs, ids, port, common };
}

/** Every `start` record a worker printed, in order. */
const startsOf = (p: Proc): Start[] =>
  p.lines.flatMap((l) => {
    try {
      const o = JSON.parse(l) as unknown;
      return isStart(o) ? [o] : [];
    } catch {
      return [];
    }
  });

const slowest = (st: Start) => Math.min(...Object.values(st.finished));

/** When each worker printed `done` (its last iteration finished; it then leaves the clock). */
function doneAt(procs: Proc[], ids: string[]): Map<string, number> {
  const out = new Map<string, number>();
  procs.forEach((p, i) => {
    for (const l of p.lines) {
      const o = JSON.parse(l) as { event?: string; at?: number };
      if (o.event === 'done') out.set(ids[i]!, o.at!);
    }
  });
  return out;
}

/**
 * The clock a worker started with lists every worker not yet done (a worker done with its
 * iterations leaves the clock), and no other.
 */
function expectLiveOnClock(st: Start, ids: string[], done: Map<string, number>): void {
  const listed = Object.keys(st.finished);
  for (const id of listed) expect(ids).toContain(id);
  for (const id of ids) if ((done.get(id) ?? Number.POSITIVE_INFINITY) > st.at) expect(listed).toContain(id);
}

describe('the cross-worker bounded delay, 3 worker processes and a straggler', () => {
  it('τ = 2: no worker starts iteration s before every worker finished s − 3', async () => {
    const iterations = 16;
    const c = await startCluster([{}, {}, { PROGRESS_SLOW: '1' }], {
      PROGRESS_TAU: '2',
      PROGRESS_ITERATIONS: String(iterations),
      PROGRESS_SLOW_MS: '60',
    });
    expect(await Promise.all(c.workers.map((w) => exitCode(w, 120_000)))).toEqual([0, 0, 0]);
    const done = doneAt(c.workers, c.ids);
    for (const w of c.workers) {
      const starts = startsOf(w);
      expect(starts.map((st) => st.s)).toEqual(Array.from({ length: iterations }, (_, i) => i + 1));
      for (const st of starts.filter((x) => x.s > 3)) {
        // Every worker not done is on the clock (none died), and the slowest finished s − 1 − τ.
        expectLiveOnClock(st, c.ids, done);
        expect(
          slowest(st),
          `worker ${st.id} started ${st.s} with ${JSON.stringify(st.finished)}`,
        ).toBeGreaterThanOrEqual(st.s - 3);
      }
    }
    // The fast workers ran into the bound: they started iterations with the straggler exactly τ behind.
    const fastGaps = c.workers.slice(0, 2).flatMap((w) => startsOf(w).map((st) => st.s - 1 - slowest(st)));
    expect(Math.max(...fastGaps)).toBe(2);
  }, 180_000);

  it('τ = 0: the workers run in lockstep', async () => {
    const iterations = 10;
    const c = await startCluster([{}, {}, { PROGRESS_SLOW: '1' }], {
      PROGRESS_TAU: '0',
      PROGRESS_ITERATIONS: String(iterations),
      PROGRESS_SLOW_MS: '40',
    });
    expect(await Promise.all(c.workers.map((w) => exitCode(w, 120_000)))).toEqual([0, 0, 0]);
    for (const w of c.workers) {
      for (const st of startsOf(w).filter((x) => x.s > 1)) {
        // The clock a worker starts s with is the first on which every worker finished s − 1,
        // and none can have finished s yet.
        expect(Object.values(st.finished)).toEqual([st.s - 1, st.s - 1, st.s - 1]);
      }
    }
  }, 180_000);

  it('a worker done with fewer iterations leaves the clock and holds nobody back', async () => {
    const c = await startCluster([{}, {}, { PROGRESS_ITERATIONS: '4' }], {
      PROGRESS_TAU: '0',
      PROGRESS_ITERATIONS: '9',
    });
    expect(await Promise.all(c.workers.map((w) => exitCode(w, 120_000)))).toEqual([0, 0, 0]);
    const short = c.ids[2]!;
    for (const w of c.workers.slice(0, 2)) {
      const starts = startsOf(w);
      expect(starts.map((st) => st.s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // Lockstep with all three up to 4; from 6 on the short worker is off the clock.
      for (const st of starts.filter((x) => x.s > 1 && x.s <= 4))
        expect(Object.values(st.finished)).toEqual([st.s - 1, st.s - 1, st.s - 1]);
      for (const st of starts.filter((x) => x.s >= 6)) {
        expect(Object.keys(st.finished)).not.toContain(short);
        expect(Object.values(st.finished)).toEqual([st.s - 1, st.s - 1]);
      }
    }
  }, 180_000);

  it('a worker SIGKILLed mid-run holds the others back only until it is declared dead', async () => {
    const heartbeatMs = 1500;
    const iterations = 12;
    const c = await startCluster([{}, {}, { PROGRESS_HANG_AT: '4' }], {
      PROGRESS_TAU: '1',
      PROGRESS_ITERATIONS: String(iterations),
      PROGRESS_HEARTBEAT_MS: String(heartbeatMs),
    });
    const hung = await c.workers[2]!.waitFor((o: { event?: string }) => o.event === 'hung', 60_000);
    expect(hung).toMatchObject({ s: 4 });
    // With τ = 1 the others can start up to iteration 6 (every worker finished 4), not 7.
    await Promise.all(
      c.workers.slice(0, 2).map((w) => w.waitFor((o: Start) => isStart(o) && o.s === 6, 60_000)),
    );
    const killedAt = Date.now();
    process.kill(c.workers[2]!.pid, 'SIGKILL');
    expect(await Promise.all(c.workers.slice(0, 2).map((w) => exitCode(w, 120_000)))).toEqual([0, 0]);
    const dead = c.ids[2]!;
    for (const w of c.workers.slice(0, 2)) {
      const starts = startsOf(w);
      expect(starts.map((st) => st.s)).toEqual(Array.from({ length: iterations }, (_, i) => i + 1));
      const seventh = starts.find((st) => st.s === 7)!;
      // Iteration 7 started on a clock without the dead worker, after it was killed, and no later
      // than the heartbeat timeout after (with room for a loaded machine).
      expect(Object.keys(seventh.finished)).not.toContain(dead);
      expect(seventh.at).toBeGreaterThanOrEqual(killedAt);
      expect(seventh.at - killedAt).toBeLessThan(heartbeatMs + 3000);
      for (const st of starts.filter((x) => x.s > 2)) expect(slowest(st)).toBeGreaterThanOrEqual(st.s - 2);
    }
  }, 180_000);

  it('a scheduler SIGKILLed and restarted with recover keeps the clock: the bound holds throughout', async () => {
    const iterations = 14;
    const c = await startCluster([{}, {}, { PROGRESS_SLOW: '1' }], {
      PROGRESS_TAU: '1',
      PROGRESS_ITERATIONS: String(iterations),
      PROGRESS_SLOW_MS: '80',
    });
    await c.workers[2]!.waitFor((o: Start) => isStart(o) && o.s === 4, 60_000);
    const killedAt = Date.now();
    process.kill(c.scheduler.pid, 'SIGKILL');
    await exitCode(c.scheduler, 10_000);
    const again = spawnNode(fixture, {
      ...c.common,
      PS_ROLE: 'scheduler',
      PS_SCHEDULER: `127.0.0.1:${c.port}`,
      PS_PORT: String(c.port),
      PS_RECOVER: '1',
      PS_RUN: 'progress-test',
    });
    await again.waitFor((o: { event?: string }) => o.event === 'view', 60_000);
    expect(await Promise.all(c.workers.map((w) => exitCode(w, 120_000)))).toEqual([0, 0, 0]);
    const done = doneAt(c.workers, c.ids);
    for (const w of c.workers) {
      const starts = startsOf(w);
      expect(starts.map((st) => st.s)).toEqual(Array.from({ length: iterations }, (_, i) => i + 1));
      for (const st of starts.filter((x) => x.s > 2)) {
        expectLiveOnClock(st, c.ids, done);
        expect(slowest(st)).toBeGreaterThanOrEqual(st.s - 2);
      }
      // Iterations past the bound of the clock before the crash ran on the restarted scheduler's.
      expect(starts.filter((st) => st.at > killedAt).length).toBeGreaterThanOrEqual(iterations - 7);
    }
  }, 180_000);
});
