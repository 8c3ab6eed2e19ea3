// threads-node.mjs (each worker thread): one role, given by the main thread.
import { workerData } from 'node:worker_threads';
import { createServer, createWorker, sumHandler } from '@ps/core';
import { threads } from '@ps/transport-inproc';

const { port, role, scheduler } = workerData;
const transport = threads({ port });
if (role === 'server') {
  const { node } = await createServer({ transport, host: 'mem', scheduler, handler: sumHandler() });
  await node.terminated;
} else {
  const { node, worker } = await createWorker({ transport, host: 'mem', scheduler });
  const keys = new BigUint64Array([1n, 2n]);
  await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2]) }));
  await node.barrier('workers'); // both workers have pushed
  console.log(`worker ${node.rank}:`, Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 2, 4 ]
  await node.finalize();
}
