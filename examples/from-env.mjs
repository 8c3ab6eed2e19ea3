// One role per process, from PS_ROLE, PS_SCHEDULER, PS_NUM_SERVERS, PS_NUM_WORKERS (and PS_HOST).
import { configFromEnv, createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const env = configFromEnv(); // throws PS_ERR_CONFIG naming a missing or malformed variable
if (env.role === 'scheduler') {
  const { numServers, numWorkers, host, port } = env;
  const scheduler = await Scheduler.start({ transport: tcp(), numServers, numWorkers, host, port });
  await scheduler.terminated;
} else if (env.role === 'server') {
  const { host, port, scheduler } = env;
  const { node } = await createServer({ transport: tcp(), host, port, scheduler, handler: sumHandler() });
  await node.terminated;
} else {
  const { node, worker } = await createWorker({ transport: tcp(), host: env.host, scheduler: env.scheduler });
  const keys = new BigUint64Array([1n, 2n, 3n]);
  await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2, 3]) }));
  await node.barrier('workers'); // every worker has pushed
  const { vals } = await worker.wait(worker.pull(keys));
  console.log(`worker rank ${node.rank}:`, Array.from(vals));
  await node.finalize();
}
