// Tasks across nodes (OSDI 2014, section 3 and Algorithm 1; section 3.4, the task graph): the
// scheduler issues named tasks with dependencies to worker processes over TCP on 127.0.0.1, and
// each worker logs when it starts and finishes each task. The in-process part checks the API's
// refusals over an inproc cluster.
import { fileURLToPath } from 'node:url';
import {
  createServer,
  createWorker,
  encodeFrame,
  isPsError,
  type Logger,
  type PsError,
  PsErrorCode,
  Scheduler,
  sumHandler,
  type TaskGraphEvent,
  type TaskId,
} from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { firstValueFrom } from 'rxjs';
import { filter, timeout } from 'rxjs/operators';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, type Proc, spawnNode } from './helpers/processes.js';

const fixture = fileURLToPath(new URL('./fixtures/task-node.mjs', import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
  await killAll();
});

interface LogLine {
  event: 'start' | 'finish';
  id: TaskId;
  name: string;
  app: number;
  t: number;
}

/** A scheduler in this process, one server and two workers as processes; resolves once they are ready. */
async function cluster() {
  const scheduler = await Scheduler.start({
    transport: tcp(),
    numServers: 1,
    numWorkers: 2,
    heartbeatTimeoutMs: 1000,
    terminateWhenWorkersDone: false,
    logger: quiet,
  });
  closers.push(() => scheduler.shutdown());
  const env = { PS_SCHEDULER: `127.0.0.1:${scheduler.address.port}`, PS_LOG_LEVEL: 'error' };
  const server = spawnNode(fixture, { ...env, PS_ROLE: 'server' });
  const procs = [0, 1].map(() => spawnNode(fixture, { ...env, PS_ROLE: 'worker' }));
  const ready = await Promise.all(
    procs.map((p) =>
      p.waitFor<{ event: string; id: string; rank: number }>((o) => o.event === 'ready', 60_000),
    ),
  );
  await server.waitFor((o) => o.event === 'ready', 60_000);
  // By rank: workers[0] is rank 0.
  const byRank = [0, 1].map((r) => {
    const i = ready.findIndex((o) => o.rank === r);
    return { proc: procs[i]!, id: ready[i]!.id };
  });
  const events: TaskGraphEvent[] = [];
  scheduler.tasks.events$.subscribe((e) => events.push(e));
  return { scheduler, workers: byRank, events };
}

/** The start and finish lines a worker printed. */
function logOf(p: Proc): LogLine[] {
  return p.lines
    .map((l) => JSON.parse(l) as LogLine | { event: string })
    .filter((o): o is LogLine => o.event === 'start' || o.event === 'finish');
}

/** Waits until `p` printed that it finished task `id`. */
const finishedLine = (p: Proc, id: TaskId) =>
  p.waitFor<LogLine>((o) => o.event === 'finish' && o.id === id, 30_000);

describe('scheduler tasks across worker processes (TCP)', () => {
  it('runs LoadData then 5 iterations, each after the previous finished on every worker', async () => {
    const { scheduler, workers, events } = await cluster();
    const load = scheduler.tasks.issue({ name: 'load', to: 'workers' });
    const iterations: TaskId[] = [];
    let prev = load;
    for (let t = 1; t <= 5; t++) {
      prev = scheduler.tasks.issue({ name: 'iterate', to: 'workers', deps: [prev], args: { t } });
      iterations.push(prev);
    }
    const [w0, w1] = workers.map((w) => w.id) as [string, string];
    expect(await scheduler.tasks.wait(load)).toEqual({ [w0]: { rows: 100 }, [w1]: { rows: 101 } });
    // Iteration t pulls what both workers pushed in iteration t - 1: exactly 2 once it finished everywhere.
    const results = await Promise.all(iterations.map((id) => scheduler.tasks.wait(id)));
    expect(results).toEqual([0, 2, 2, 2, 2].map((v) => ({ [w0]: v, [w1]: v })));
    await Promise.all(workers.map((w) => finishedLine(w.proc, iterations.at(-1)!)));

    const logs = workers.map((w) => logOf(w.proc));
    const deps = new Map<TaskId, TaskId[]>([
      [load, []],
      ...iterations.map((id, i) => [id, [i === 0 ? load : iterations[i - 1]!]] as [TaskId, TaskId[]]),
    ]);
    const finishes = logs.flat().filter((l) => l.event === 'finish');
    for (const log of logs) {
      // Each worker ran each task once, in the order of the graph.
      expect(log.map((l) => `${l.event} ${l.id}`)).toEqual(
        [load, ...iterations].flatMap((id) => [`start ${id}`, `finish ${id}`]),
      );
      for (const s of log.filter((l) => l.event === 'start')) {
        for (const d of deps.get(s.id)!) {
          const depFinishes = finishes.filter((f) => f.id === d);
          expect(depFinishes).toHaveLength(2);
          for (const f of depFinishes) expect(s.t).toBeGreaterThanOrEqual(f.t);
        }
      }
    }
    // The scheduler's own record: every send after its deps were done, and every task done ok.
    const doneAt = new Map(events.filter((e) => e.type === 'done' && e.ok).map((e) => [e.id, e.time]));
    expect([...doneAt.keys()]).toEqual([load, ...iterations]);
    for (const e of events.filter((e) => e.type === 'sent')) {
      for (const d of deps.get(e.id)!) expect(e.time).toBeGreaterThanOrEqual(doneAt.get(d)!);
    }
  });

  it('lets a task of one app wait for a task of another, and carries executor failures back', async () => {
    const { scheduler, workers } = await cluster();
    const [w0, w1] = workers.map((w) => w.id) as [string, string];
    // App 1: every worker pushes rank + 1 to key 7. App 2: worker 0 reads it, after app 1's task.
    const contribute = scheduler.tasks.issue({ name: 'contribute', app: 1, to: 'workers' });
    const read = scheduler.tasks.issue({ name: 'read', app: 2, to: [w0], deps: [contribute] });
    expect(await scheduler.tasks.wait(read)).toEqual({ [w0]: 3 });
    expect(await scheduler.tasks.wait(contribute)).toEqual({ [w0]: 1, [w1]: 2 });
    const readStart = logOf(workers[0]!.proc).find((l) => l.id === read && l.event === 'start')!;
    expect(readStart.app).toBe(2);
    await Promise.all(workers.map((w) => finishedLine(w.proc, contribute)));
    for (const w of workers) {
      const f = logOf(w.proc).find((l) => l.id === contribute && l.event === 'finish')!;
      expect(readStart.t).toBeGreaterThanOrEqual(f.t);
    }

    const plain = await scheduler.tasks
      .wait(scheduler.tasks.issue({ name: 'fail', to: [w1] }))
      .catch((e: unknown) => e);
    expect(isPsError(plain, PsErrorCode.TASK_FAILED)).toBe(true);
    expect((plain as PsError).message).toContain(`failed on ${w1}`);
    expect((plain as PsError).message).toContain('disk full');
    const coded = scheduler.tasks.issue({ name: 'fail', to: [w0], args: { coded: true } });
    const after = scheduler.tasks.issue({ name: 'load', to: 'workers', deps: [coded] });
    await expect(scheduler.tasks.wait(coded)).rejects.toMatchObject({ code: PsErrorCode.DATASET });
    await expect(scheduler.tasks.wait(after)).rejects.toMatchObject({ code: PsErrorCode.TASK_FAILED });
    expect(scheduler.tasks.state(after)).toEqual({
      state: 'failed',
      nodes: { [w0]: 'waiting', [w1]: 'waiting' },
    });
    const none = scheduler.tasks.issue({ name: 'no-such-task', to: 'workers' });
    await expect(scheduler.tasks.wait(none)).rejects.toMatchObject({ code: PsErrorCode.NO_EXECUTOR });
  });

  it('fails the task of a worker SIGKILLed mid-task with PS_ERR_NODE_DEAD, and goes on with the live one', async () => {
    const { scheduler, workers, events } = await cluster();
    const [w0, w1] = workers.map((w) => w.id) as [string, string];
    const long = scheduler.tasks.issue({ name: 'work', to: 'workers', args: { ms: 120_000 } });
    const next = scheduler.tasks.issue({ name: 'load', to: 'workers', deps: [long] });
    await Promise.all(
      workers.map((w) => w.proc.waitFor((o) => o.event === 'start' && o.id === long, 30_000)),
    );
    process.kill(workers[1]!.proc.pid, 'SIGKILL');
    const err = await scheduler.tasks.wait(long).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.NODE_DEAD)).toBe(true);
    expect((err as PsError).message).toContain(w1);
    await expect(scheduler.tasks.wait(next)).rejects.toMatchObject({ code: PsErrorCode.TASK_FAILED });
    expect(events.find((e) => e.type === 'failed' && e.id === long)).toMatchObject({ node: w1 });
    // Not reissued: the job issues again, and 'workers' now means the live one.
    const again = scheduler.tasks.issue({ name: 'load', to: 'workers' });
    expect(await scheduler.tasks.wait(again)).toEqual({ [w0]: { rows: 100 } });
    expect(() => scheduler.tasks.issue({ name: 'load', to: [w1] })).toThrow(
      expect.objectContaining({ code: PsErrorCode.CONFIG }),
    );
  });
});

describe('scheduler tasks: refusals (inproc)', () => {
  async function small(maxPendingPerNode?: number, serverLogger: Logger = quiet) {
    const hub = new InprocHub();
    const scheduler = await Scheduler.start({
      transport: inproc({ hub }),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
      terminateWhenWorkersDone: false,
      ...(maxPendingPerNode === undefined ? {} : { tasks: { maxPendingPerNode } }),
    });
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    expect(() => scheduler.tasks.issue({ name: 'x', to: 'workers' })).toThrow(
      expect.objectContaining({ code: PsErrorCode.PROTOCOL }),
    );
    const [s, w] = await Promise.all([
      createServer({
        transport: inproc({ hub }),
        scheduler: at,
        logger: serverLogger,
        handler: sumHandler(),
      }),
      createWorker({ transport: inproc({ hub }), scheduler: at, logger: quiet, taskGraceMs: 200 }),
    ]);
    closers.push(
      () => w.node.close(),
      () => s.node.close(),
      () => scheduler.shutdown(),
    );
    await firstValueFrom(
      scheduler.cluster$.pipe(
        filter((v) => v !== undefined),
        timeout(10_000),
      ),
    );
    return { scheduler, server: s.node, worker: w.node, hub };
  }

  it('refuses bad specs synchronously with a code that says what to fix', async () => {
    const { scheduler, worker } = await small();
    const bad = (spec: Parameters<typeof scheduler.tasks.issue>[0], code: string) =>
      expect(() => scheduler.tasks.issue(spec)).toThrow(expect.objectContaining({ code }));
    bad({ name: '', to: 'workers' }, PsErrorCode.CONFIG);
    bad({ name: 'x', app: -1, to: 'workers' }, PsErrorCode.CONFIG);
    bad({ name: 'x', to: [] }, PsErrorCode.CONFIG);
    bad({ name: 'x', to: ['nobody'] }, PsErrorCode.CONFIG);
    bad({ name: 'x', to: 'workers', args: { f: () => 1 } }, PsErrorCode.CONFIG);
    bad({ name: 'x', to: 'workers', deps: [1] }, PsErrorCode.UNKNOWN_TASK);
    await expect(scheduler.tasks.wait(1)).rejects.toMatchObject({ code: PsErrorCode.UNKNOWN_TASK });
    expect(() => worker.tasks.handle('x', 5 as never)).toThrow(
      expect.objectContaining({ code: PsErrorCode.CONFIG }),
    );
    worker.tasks.handle('x', () => 1);
    expect(() => worker.tasks.handle('x', () => 2)).toThrow(
      expect.objectContaining({ code: PsErrorCode.CONFIG }),
    );
    expect('next' in scheduler.tasks.events$).toBe(false);
  });

  it('holds a task for an executor registered late, within taskGraceMs', async () => {
    const { scheduler, worker } = await small();
    worker.tasks.handle('marker', () => 'm');
    const early = scheduler.tasks.issue({ name: 'late', to: 'workers', args: { x: 2 } });
    // Sent after it over the same link: once the marker is answered, the worker holds 'late'.
    await scheduler.tasks.wait(scheduler.tasks.issue({ name: 'marker', to: 'workers' }));
    expect(scheduler.tasks.state(early)).toEqual({ state: 'running', nodes: { [worker.id]: 'sent' } });
    worker.tasks.handle('late', (args) => (args as { x: number }).x * 21);
    expect(await scheduler.tasks.wait(early)).toEqual({ [worker.id]: 42 });
    const never = scheduler.tasks.issue({ name: 'never', to: 'workers' });
    const err = await scheduler.tasks.wait(never).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.NO_EXECUTOR)).toBe(true);
    expect((err as PsError).message).toContain('waited 200 ms');
  });

  it('caps the unfinished tasks of a node, and runs tasks on servers too', async () => {
    const { scheduler, worker, server } = await small(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    worker.tasks.handle('hold', async () => {
      await gate;
      return 'held';
    });
    server.tasks.handle('where', (_args, task) => `${task.node}:${task.app}`);
    const a = scheduler.tasks.issue({ name: 'hold', to: 'workers' });
    const b = scheduler.tasks.issue({ name: 'hold', to: 'workers' });
    let thrown: unknown;
    try {
      scheduler.tasks.issue({ name: 'hold', to: 'workers' });
    } catch (e) {
      thrown = e;
    }
    expect(isPsError(thrown, PsErrorCode.TASK_LIMIT)).toBe(true);
    expect((thrown as PsError).message).toContain('maxPendingPerNode 2');
    expect(
      await scheduler.tasks.wait(scheduler.tasks.issue({ name: 'where', app: 3, to: 'servers' })),
    ).toEqual({
      [server.id]: `${server.id}:3`,
    });
    release();
    expect(await scheduler.tasks.wait(a)).toEqual({ [worker.id]: 'held' });
    await scheduler.tasks.wait(b);
    // Below the cap again: the id goes on from the last one issued.
    expect(scheduler.tasks.issue({ name: 'hold', to: 'workers' })).toBe(b + 2);
  });

  it('ignores a task sent by anyone but the scheduler', async () => {
    let ignored!: () => void;
    const logged = new Promise<void>((r) => {
      ignored = r;
    });
    const logger = {
      ...quiet,
      warn: (m: string) => {
        if (m.includes('control command task from rogue ignored')) ignored();
      },
    };
    const { server, hub } = await small(undefined, logger);
    let runs = 0;
    server.tasks.handle('where', () => ++runs);
    const rogue = inproc({ hub });
    closers.push(() => rogue.close());
    await rogue.bind({ id: 'rogue', host: '127.0.0.1', port: 0 }, { listen: false });
    const to = await rogue.connect({ host: '127.0.0.1', port: server.address.port });
    const body = { graph: 'g', id: 1, name: 'where', app: 0, args: null };
    const meta = { sender: '', recipient: '', app: 0, ts: 0, request: false, push: false, pull: false };
    await rogue.send(to, encodeFrame({ meta: { ...meta, cmd: 'task', body }, data: [] }));
    await logged;
    expect(runs).toBe(0);
  });
});
