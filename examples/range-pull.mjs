import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 2, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [s1, s2, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp(), scheduler: at }),
]);

// Six keys spread over the key space (so both servers hold some), one value each.
const keys = BigUint64Array.from([1n, 2n, 3n, 4n, 5n, 6n], (i) => i << 60n);
await worker.wait(worker.push({ keys, vals: Float32Array.of(10, 20, 30, 40, 50, 60) }));

// Every stored key in [2 << 60, 2^64): ascending, from both servers, end exclusive.
const all = await worker.wait(worker.pullRange({ begin: 2n << 60n, end: 2n ** 64n }));
console.log(Array.from(all.vals), all.next); // [20, 30, 40, 50, 60] undefined

// The same range in pages of 2 keys: continue from each page's `next` until it is undefined.
for (let begin = 2n << 60n; begin !== undefined; ) {
  const page = await worker.wait(worker.pullRange({ begin, end: 2n ** 64n }, { limit: 2 }));
  console.log(
    Array.from(page.keys, (k) => k >> 60n),
    Array.from(page.vals),
  );
  begin = page.next;
}

await node.finalize();
await Promise.all([s1.node.terminated, s2.node.terminated, scheduler.terminated]);
