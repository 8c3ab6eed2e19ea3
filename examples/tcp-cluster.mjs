import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp({ reconnectWindowMs: 30_000 }), scheduler: at }),
]);
const keys = new BigUint64Array([1n, 2n]);
await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2]) }));
console.log(Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 1, 2 ]
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
