import { boundedDelay, createServer, createWorker, Scheduler, sequential, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp(), scheduler: at }),
]);

const keys = new BigUint64Array([4n, 5n]);
const grads = { keys, vals: new Float32Array([0.5, -1]) };
worker.consistency = boundedDelay(2); // per worker, changeable at any time
const a = worker.push(grads); // held or sent by the policy
const b = worker.pull(keys, { consistency: sequential() }); // this request waits for all before it
await worker.wait(a);
console.log(Array.from((await worker.wait(b)).vals)); // [ 0.5, -1 ]: the pull saw the push
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
