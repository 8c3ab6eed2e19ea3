import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { lz4, quantize } from '@ps/filters';
import { tcp } from '@ps/transport-tcp';

const chain = () => [quantize({ bits: 8 }), lz4()]; // a fresh chain per node: filters keep stats
const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler(), filters: chain() }),
  createWorker({ transport: tcp(), scheduler: at, filters: chain() }),
]);
const keys = new BigUint64Array(100_000).map((_, i) => BigInt(i));
const vals = new Float32Array(keys.length); // a sparse update: 2% nonzero
for (let i = 0; i < vals.length; i += 50) vals[i] = Math.sin(i);
await worker.wait(worker.push({ keys, vals }));
const got = await worker.wait(worker.pull(keys)); // each value within 2/254 of vals, zeros exact
console.log(got.vals.every((v, i) => Math.abs(v - vals[i]) <= 2 / 254 && (vals[i] !== 0 || v === 0))); // true
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
