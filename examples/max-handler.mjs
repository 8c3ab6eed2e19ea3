import { createServer, createWorker, Scheduler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

/** Keeps, per key, the largest value pushed (one value per key). */
function maxHandler() {
  const best = new Map(); // key (bigint) -> number
  return ({ push, pull, kv }) => {
    if (push)
      for (const [i, k] of kv.keys.entries()) best.set(k, Math.max(best.get(k) ?? -Infinity, kv.vals[i]));
    if (!pull) return undefined; // a pure push answers with nothing
    return { keys: kv.keys, vals: Float32Array.from(kv.keys, (k) => best.get(k) ?? 0) };
  };
}

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: maxHandler() }),
  createWorker({ transport: tcp(), scheduler: at }),
]);
const keys = new BigUint64Array([1n, 2n]);
await worker.wait(worker.push({ keys, vals: new Float32Array([5, -1]) }));
await worker.wait(worker.push({ keys, vals: new Float32Array([3, 4]) }));
console.log(Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 5, 4 ]
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
