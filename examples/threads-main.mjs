// threads-main.mjs (main thread): a scheduler here, a server and two workers in worker threads.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Scheduler } from '@ps/core';
import { ThreadHub, threads } from '@ps/transport-inproc';

const hub = new ThreadHub();
const sched = await Scheduler.start({
  transport: threads({ port: hub.connectPort() }),
  host: 'mem',
  numServers: 1,
  numWorkers: 2,
});
const scheduler = { host: 'mem', port: sched.address.port };
const threadsDone = ['server', 'worker', 'worker'].map((role) => {
  const port = hub.connectPort(); // one port per transport
  const thread = new Worker(new URL('./threads-node.mjs', import.meta.url), {
    workerData: { port, role, scheduler },
    transferList: [port],
  });
  return once(thread, 'exit');
});
await sched.terminated; // once both workers finalized
await Promise.all(threadsDone);
hub.close();
