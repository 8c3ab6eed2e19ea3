import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const latest = new Map(); // key -> its value in the last batch that named it
const [server, { node, worker }] = await Promise.all([
  createServer({
    transport: tcp(),
    scheduler: at,
    handler: sumHandler(),
    // Subscribe before the node joins, so that no push is applied before.
    beforeStart: async ([kv]) => {
      kv.updates$({ intervalMs: 10, values: true }).subscribe(({ keys, vals }) => {
        for (let i = 0; i < keys.length; i++) latest.set(keys[i], vals[i]);
      });
    },
  }),
  createWorker({ transport: tcp(), scheduler: at }),
]);
await worker.wait(worker.push({ keys: new BigUint64Array([1n, 2n]), vals: new Float32Array([1, 1]) }));
await worker.wait(worker.push({ keys: new BigUint64Array([2n, 3n]), vals: new Float32Array([5, 5]) }));
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
// The stream completes with the node, after its last batch.
console.log([...latest].sort((a, b) => (a[0] < b[0] ? -1 : 1))); // [ [ 1n, 1 ], [ 2n, 6 ], [ 3n, 5 ] ]
