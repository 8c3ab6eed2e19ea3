import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const scheduler = await Scheduler.start({
  transport: tcp(),
  numServers: 3,
  numWorkers: 2,
  replicas: 1, // k: every range on 2 servers
  heartbeatTimeoutMs: 2000, // declare a silent node dead after 2 s
});
const at = { host: '127.0.0.1', port: scheduler.address.port };
const server = () => createServer({ transport: tcp(), scheduler: at, handler: sumHandler() });
const worker = () => createWorker({ transport: tcp(), scheduler: at });
const [, , , w0, w1] = await Promise.all([server(), server(), server(), worker(), worker()]);
const keys = BigUint64Array.from({ length: 64 }, (_, i) => BigInt(i) << 58n); // spread over the ring
await w0.worker.wait(w0.worker.push({ keys, vals: new Float32Array(64).fill(1) }));

// Later, a fourth server joins the running cluster: it just registers.
const extra = await server();
// And leaves gracefully: its ranges move to the next servers on the ring first.
await extra.node.leave();

const { vals } = await w1.worker.wait(w1.worker.pull(keys));
console.log(vals.every((v) => v === 1)); // true: no value lost across the join and the leave
await Promise.all([w0.node.finalize(), w1.node.finalize()]);
await scheduler.terminated;
