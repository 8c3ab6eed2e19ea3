import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 2 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, a, b] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp(), scheduler: at }),
  createWorker({ transport: tcp(), scheduler: at }),
]);

// Three iterations in lockstep (τ = 0): a worker starts t once every live worker finished t − 1.
const train = async ({ node }, msPerIteration) => {
  for (let t = 1; t <= 3; t++) {
    await node.progress.waitFor(t - 1, 0);
    await new Promise((r) => setTimeout(r, msPerIteration)); // the iteration's work
    node.progress.finish(t);
  }
  return node.progress.waitFor(3, 0); // resolves with the clock once both finished 3
};
const [clock] = await Promise.all([train(a, 1), train(b, 20)]);
console.log(Object.values(clock.finished)); // [ 3, 3 ]
await Promise.all([a.node.finalize(), b.node.finalize()]);
await Promise.all([server.node.terminated, scheduler.terminated]);
