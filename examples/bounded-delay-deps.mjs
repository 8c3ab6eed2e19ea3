import { boundedDelay, createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp(), scheduler: at }),
]);

const kv = { keys: new BigUint64Array([3n, 4n]), vals: new Float32Array([1, 2]) };
worker.consistency = boundedDelay(2);
const push = worker.push(kv);
const pull = worker.pull(kv.keys, { deps: [push], hold: false }); // sees the push, one round trip
console.log(Array.from((await worker.wait(pull)).vals)); // [ 1, 2 ]
await worker.wait(push);
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
