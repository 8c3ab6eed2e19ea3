import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { keyCaching, lz4, quantize, significantUpdate } from '@ps/filters';
import { tcp } from '@ps/transport-tcp';

// A fresh chain per node (filters keep state and stats); the same chain on every node.
const filters = () => [keyCaching(), significantUpdate({ threshold: 0.01 }), quantize({ bits: 8 }), lz4()];
const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
// Start both roles before awaiting either: each resolves only once the cluster is full.
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler(), filters: filters() }),
  createWorker({ transport: tcp(), scheduler: at, filters: filters() }),
]);
const keys = BigUint64Array.from({ length: 1000 }, (_, i) => BigInt(i));
await worker.wait(worker.push({ keys, vals: new Float32Array(1000).fill(0.5) }));
const { vals } = await worker.wait(worker.pull(keys));
console.log(vals.every((v) => Math.abs(v - 0.5) < 0.01)); // true: within quantize's step
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
