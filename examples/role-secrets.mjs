// Servers and workers with different secrets: a worker's secret cannot register a server.
import { randomBytes } from 'node:crypto';
import {
  createServer,
  createWorker,
  isPsError,
  PsErrorCode,
  RoleSecrets,
  Scheduler,
  sumHandler,
} from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const both = { server: randomBytes(32).toString('base64'), worker: randomBytes(32).toString('base64') };
const scheduler = await Scheduler.start({
  transport: tcp({ secret: new RoleSecrets('scheduler', both) }),
  numServers: 1,
  numWorkers: 1,
});
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({
    transport: tcp({ secret: new RoleSecrets('server', both) }),
    scheduler: at,
    handler: sumHandler(),
  }),
  createWorker({
    transport: tcp({ secret: new RoleSecrets('worker', { worker: both.worker }) }),
    scheduler: at,
  }),
]);
const keys = new BigUint64Array([1n, 2n]);
await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2]) }));
console.log(Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 1, 2 ]

// A node holding only the workers' secret that tries to join as a server is refused.
const impostor = createServer({
  transport: tcp({ secret: new RoleSecrets('worker', { worker: both.worker }) }),
  scheduler: at,
  handler: sumHandler(),
  startTimeoutMs: 5000,
  logger: { debug() {}, info() {}, warn() {}, error() {} },
}).catch((e) => e);
console.log(isPsError(await impostor, PsErrorCode.AUTH)); // true
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
