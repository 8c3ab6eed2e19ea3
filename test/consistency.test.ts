// Tasks and consistency (OSDI 2014, sections 3.4 and 3.5) under delayed and reordered delivery:
// an in-process cluster whose every frame arrives after a seeded random delay.
import {
  boundedDelay,
  type Consistency,
  createServer,
  createWorker,
  eventual,
  type KVWorker,
  measureIdle,
  Scheduler,
  sequential,
  sumHandler,
  type TaskEvent,
} from '@ps/core';
import { reorderingTransport } from '@ps/core/testing';
import { InprocHub, inproc } from '@ps/transport-inproc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function cluster(seed: number, consistency: Consistency, maxDelayMs = 4) {
  const hub = new InprocHub();
  const t = (s: number) => reorderingTransport(inproc({ hub }), { seed: s, maxDelayMs });
  const scheduler = await Scheduler.start({
    transport: inproc({ hub }),
    numServers: 2,
    numWorkers: 1,
    logger: quiet,
  });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const [s1, s2, w] = await Promise.all([
    createServer({ transport: t(seed + 1), scheduler: at, logger: quiet, handler: sumHandler() }),
    createServer({ transport: t(seed + 2), scheduler: at, logger: quiet, handler: sumHandler() }),
    createWorker({ transport: t(seed + 3), scheduler: at, logger: quiet }),
  ]);
  w.worker.consistency = consistency;
  closers.push(
    () => w.node.close(),
    () => s1.node.close(),
    () => s2.node.close(),
    () => scheduler.shutdown(),
  );
  return w.worker;
}

/** Keys spread over the key space (which server holds which depends on the ring). */
const keys = BigUint64Array.from([1n, 2n, (1n << 63n) + 5n]);

function record(worker: KVWorker): TaskEvent[] {
  const events: TaskEvent[] = [];
  worker.events$.subscribe((e) => events.push(e));
  return events;
}

/** Issues `ops` tasks (push or pull of `keys`) as fast as the policy lets them go, then waits for all. */
async function run(worker: KVWorker, ops: boolean[]): Promise<void> {
  const ts = ops.map((isPush) =>
    isPush ? worker.push({ keys, vals: new Float32Array(3).fill(1) }) : worker.pull(keys),
  );
  await Promise.all(ts.map((t) => worker.wait(t)));
}

const timesOf = (events: TaskEvent[], type: 'sent' | 'finished') => {
  const m = new Map<number, number>();
  for (const e of events) if (e.type === type) m.set(e.ts, e.time);
  return m;
};

/** The largest number of tasks sent and not finished at once. */
function maxInFlight(events: TaskEvent[]): number {
  let now = 0;
  let max = 0;
  for (const e of events) {
    if (e.type === 'sent') max = Math.max(max, ++now);
    else if (e.type === 'finished') now--;
  }
  return max;
}

const opsArb = fc.array(fc.boolean(), { minLength: 2, maxLength: 14 });

describe('consistency policies under reordering', () => {
  it('sequential: no two tasks of a worker overlap (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(10_000), opsArb, async (seed, ops) => {
        const worker = await cluster(seed, sequential());
        const events = record(worker);
        await run(worker, ops);
        const sent = timesOf(events, 'sent');
        const finished = timesOf(events, 'finished');
        expect(maxInFlight(events)).toBe(1);
        for (let t = 1; t < ops.length; t++)
          expect(sent.get(t)!).toBeGreaterThanOrEqual(finished.get(t - 1)!);
        await Promise.all(closers.splice(0).map((c) => c()));
      }),
      { numRuns: 12 },
    );
  });

  it('boundedDelay(τ): at most τ+1 tasks in flight, and task t starts only after t−τ−1 finished (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(10_000), fc.integer({ min: 0, max: 4 }), opsArb, async (seed, tau, ops) => {
        const worker = await cluster(seed, boundedDelay(tau));
        const events = record(worker);
        await run(worker, ops);
        const sent = timesOf(events, 'sent');
        const finished = timesOf(events, 'finished');
        expect(maxInFlight(events)).toBeLessThanOrEqual(tau + 1);
        for (let t = tau + 1; t < ops.length; t++) {
          for (let older = 0; older <= t - tau - 1; older++) {
            expect(sent.get(t)!).toBeGreaterThanOrEqual(finished.get(older)!);
          }
        }
        await Promise.all(closers.splice(0).map((c) => c()));
      }),
      { numRuns: 12 },
    );
  });

  it('eventual: tasks do not wait for each other', async () => {
    const worker = await cluster(7, eventual(), 10);
    const events = record(worker);
    await run(worker, new Array(10).fill(true));
    expect(maxInFlight(events)).toBe(10);
  });

  it('τ can change while tasks are held: lowering it holds more, raising it releases them', async () => {
    const worker = await cluster(3, boundedDelay(0), 10);
    const events = record(worker);
    const ts = Array.from({ length: 6 }, () => worker.push({ keys, vals: new Float32Array(3).fill(1) }));
    expect(worker.heldBack).toBe(5);
    worker.consistency = eventual();
    expect(worker.heldBack).toBe(0);
    await Promise.all(ts.map((t) => worker.wait(t)));
    expect(maxInFlight(events)).toBeGreaterThan(1);
  });
});

describe('dependencies on the server side', () => {
  it('a chain of pushes and pulls sent at once (hold: false) is applied in dependency order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(10_000),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 10 }),
        async (seed, increments) => {
          const worker = await cluster(seed, eventual(), 6);
          const pulls: number[] = [];
          let prev: number | undefined;
          for (const inc of increments) {
            const push = worker.push(
              { keys, vals: new Float32Array(3).fill(inc) },
              { deps: prev === undefined ? [] : [prev], hold: false },
            );
            prev = worker.pull(keys, { deps: [push], hold: false });
            pulls.push(prev);
          }
          // Everything was sent at once: nothing waited at the worker.
          expect(worker.heldBack).toBe(0);
          const got = await Promise.all(pulls.map((t) => worker.wait(t)));
          let sum = 0;
          increments.forEach((inc, i) => {
            sum += inc;
            expect([...got[i]!.vals]).toEqual([sum, sum, sum]);
          });
          await Promise.all(closers.splice(0).map((c) => c()));
        },
      ),
      { numRuns: 15 },
    );
  });

  it('deps held at the worker: the pull waits for the push to finish and sees it', async () => {
    const worker = await cluster(11, eventual(), 6);
    const push = worker.push({ keys, vals: new Float32Array(3).fill(4) });
    const pull = worker.pull(keys, { deps: [push] });
    expect(worker.heldBack).toBe(1);
    expect([...(await worker.wait(pull)).vals]).toEqual([4, 4, 4]);
  });

  it('refuses a dependency on a task that is not earlier with PS_ERR_DEPS', async () => {
    const worker = await cluster(5, eventual());
    expect(() => worker.pull(keys, { deps: [99] })).toThrow(/PS_ERR_DEPS/);
    expect(() => worker.pull(keys, { deps: [-1] })).toThrow(/PS_ERR_DEPS/);
  });
});

describe('task events', () => {
  it('report issued, sent, answered (once per server) and finished, and idle time from waits', async () => {
    const worker = await cluster(1, sequential(), 5);
    const events = record(worker);
    const idle = measureIdle(worker.events$);
    const t0 = performance.now();
    await run(worker, [true, false, true]);
    const wall = performance.now() - t0;
    for (let ts = 0; ts < 3; ts++) {
      const kinds = events.filter((e) => e.ts === ts).map((e) => e.type);
      // Once per server the ring gives some of the keys to.
      const owners = new Set(worker.node.view.ring.slice(keys).map((sl) => sl.owner));
      expect(kinds.filter((k) => k === 'answered')).toHaveLength(owners.size);
      expect(kinds.indexOf('issued')).toBeLessThan(kinds.indexOf('sent'));
      expect(kinds.indexOf('sent')).toBeLessThan(kinds.lastIndexOf('answered'));
      expect(kinds.at(-1)).toBe('resume');
      expect(kinds).toContain('finished');
    }
    expect(idle.idleMs()).toBeGreaterThan(0);
    expect(idle.idleMs()).toBeLessThanOrEqual(wall + 1);
    idle.stop();
  });
});
