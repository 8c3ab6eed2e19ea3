import { createServer, createWorker, Scheduler, sgdHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

// Sync mode is in the view: every server sums each iteration's pushes of the live workers.
const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 2, sync: true });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, a, b] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sgdHandler({ lr: 0.5 }) }),
  createWorker({ transport: tcp(), scheduler: at }),
  createWorker({ transport: tcp(), scheduler: at }),
]);

const keys = new BigUint64Array([1n, 2n]);
const train = async ({ node, worker }, grad) => {
  // Acknowledged once both workers pushed iteration 0 and the sum [3, 1] was applied once.
  await worker.wait(worker.push({ keys, vals: new Float32Array(grad) }, { iteration: 0 }));
  const model = await worker.wait(worker.pull(keys, { iteration: 1 }));
  await node.finalize();
  return Array.from(model.vals);
};
const models = await Promise.all([train(a, [1, 2]), train(b, [2, -1])]);
console.log(models); // [ [ -1.5, -0.5 ], [ -1.5, -0.5 ] ]: w = 0 - 0.5 * (sum of both gradients)
await Promise.all([server.node.terminated, scheduler.terminated]);
