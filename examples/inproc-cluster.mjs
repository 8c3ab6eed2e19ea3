import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';

const hub = new InprocHub(); // optional: isolates this cluster (default: one hub per thread)
const sched = await Scheduler.start({
  transport: inproc({ hub }),
  host: 'mem',
  numServers: 1,
  numWorkers: 1,
});
const scheduler = { host: 'mem', port: sched.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: inproc({ hub }), host: 'mem', scheduler, handler: sumHandler() }),
  createWorker({ transport: inproc({ hub }), host: 'mem', scheduler }),
]);
const keys = new BigUint64Array([1n, 2n]);
await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2]) }));
console.log(Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 1, 2 ]
await node.finalize();
await Promise.all([server.node.terminated, sched.terminated]);
