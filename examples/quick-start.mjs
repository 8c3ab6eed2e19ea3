import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
// Each role resolves once the whole cluster has registered: start them all, then await.
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp(), scheduler: at, dtype: 'float32' }),
]);

const keys = new BigUint64Array([1n, 3n, 8n]); // strictly increasing uint64 keys
await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2, 3]) }));
await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2, 3]) }));
const { vals } = await worker.wait(worker.pull(keys)); // a Float32Array (dtype: 'float32')
console.log(vals); // Float32Array(3) [ 2, 4, 6 ]
await node.finalize(); // the scheduler shuts the cluster down
await Promise.all([server.node.terminated, scheduler.terminated]);
