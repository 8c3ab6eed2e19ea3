import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { firstValueFrom } from 'rxjs';

// 1. The scheduler: port 0 lets the OS pick a free port.
const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };

// 2. One server and one worker. Each resolves only once the whole cluster has registered,
//    so start them together.
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp(), scheduler: at, dtype: 'float32' }),
]);

// 3. Push twice, then pull: sumHandler adds pushed values into the stored ones.
const keys = new BigUint64Array([1n, 5n, 9n]);
const vals = new Float32Array([0.5, 1, 1.5, 2, 2.5, 3]); // 2 values per key
await worker.wait(worker.push({ keys, vals }));
await worker.wait(worker.push({ keys, vals }));
const pulled = await worker.wait(worker.pull(keys));
console.log('pull', Array.from(pulled.vals)); // [1, 2, 3, 4, 5, 6]

// pushPull: push, then read the values after that push, in one round trip.
const both = await worker.wait(worker.pushPull({ keys, vals }));
console.log('pushPull', Array.from(both.vals)); // [1.5, 3, 4.5, 6, 7.5, 9]

// The Observable form emits the pulled KVPairs once and completes.
const again = await firstValueFrom(worker.pull$(new BigUint64Array([5n, 7n])));
console.log('pull$', Array.from(again.vals)); // [4.5, 6, 0, 0]: key 7 was never pushed

// 4. The worker says it is done; the scheduler then shuts every node down.
await node.finalize();
await server.node.terminated;
await scheduler.terminated;
