// Run in a folder holding `secret`, `cert.pem` and `key.pem` (made with the openssl lines above).
import { readFileSync } from 'node:fs';
import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const secret = readFileSync('secret', 'utf8').trim();
const tls = { cert: readFileSync('cert.pem'), key: readFileSync('key.pem'), ca: readFileSync('cert.pem') };
const scheduler = await Scheduler.start({ transport: tcp({ secret, tls }), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp({ secret, tls }), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp({ secret, tls: { ca: tls.ca } }), scheduler: at }),
]);
const keys = new BigUint64Array([7n]);
await worker.wait(worker.push({ keys, vals: new Float32Array([3]) }));
console.log(Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 3 ]
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
