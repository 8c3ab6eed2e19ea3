// The shape of the paper's Algorithm 1 (OSDI 2014): the scheduler issues LoadData to every
// worker, then T iterations; WorkerIterate(t) is sent once iteration t - 1 - tau finished on every
// worker (tau = 0: each iteration waits for the previous one). One process, in-process transport.
import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';

const T = 5;
const tau = 1;
const hub = new InprocHub();
const mem = () => ({ transport: inproc({ hub }), host: 'mem' });
const sched = await Scheduler.start({ ...mem(), numServers: 1, numWorkers: 2 });
const scheduler = { host: 'mem', port: sched.address.port };
const [server, ...workers] = await Promise.all([
  createServer({ ...mem(), scheduler, handler: sumHandler() }),
  createWorker({ ...mem(), scheduler }),
  createWorker({ ...mem(), scheduler }),
]);

// The workers' side: an executor per task name. A result goes back to the scheduler.
const w = new BigUint64Array([0n]); // the model: one weight
for (const { node, worker } of workers) {
  const rows = 100 + node.rank; // the size of this worker's shard
  node.tasks.handle('LoadData', () => ({ rows }));
  node.tasks.handle('WorkerIterate', async ({ t }) => {
    const { vals } = await worker.wait(worker.pull(w)); // the weight as of now
    await worker.wait(worker.push({ keys: w, vals: Float32Array.of(1) })); // this worker's gradient
    return { t, seen: vals[0] };
  });
}

// The scheduler's side: the task graph.
const events = [];
sched.tasks.events$.subscribe((e) => events.push(e));
const load = sched.tasks.issue({ name: 'LoadData', to: 'workers' });
const iterations = [];
for (let t = 1; t <= T; t++) {
  const deps = t - 1 - tau >= 1 ? [iterations[t - 2 - tau]] : [load];
  iterations.push(sched.tasks.issue({ name: 'WorkerIterate', to: 'workers', deps, args: { t } }));
}
const loaded = await sched.tasks.wait(load); // { [worker id]: { rows } }
console.log(
  Object.values(loaded)
    .map((r) => r.rows)
    .sort(),
); // [ 100, 101 ]
await Promise.all(iterations.map((id) => sched.tasks.wait(id)));
const { vals } = await workers[0].worker.wait(workers[0].worker.pull(w));
console.log(vals[0]); // 10: 2 workers x 5 iterations, one gradient of 1 each

// No task was sent to a worker before every task it depends on was done on every worker.
const depsOf = new Map(events.filter((e) => e.type === 'issued').map((e) => [e.id, e.deps]));
const doneAt = new Map(events.filter((e) => e.type === 'done' && e.ok).map((e) => [e.id, e.time]));
const sends = events.filter((e) => e.type === 'sent');
console.log(
  sends.length,
  sends.every((e) => depsOf.get(e.id).every((d) => doneAt.get(d) <= e.time)),
); // 12 true

await Promise.all(workers.map(({ node }) => node.finalize()));
await Promise.all([server.node.terminated, sched.terminated]);
