// Run in a folder holding `secret` (openssl rand -base64 32 > secret && chmod 600 secret).
import { readFileSync } from 'node:fs';
import { createServer, createWorker, isPsError, PsErrorCode, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';

const secret = readFileSync('secret', 'utf8').trim();
const scheduler = await Scheduler.start({ transport: tcp({ secret }), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: tcp({ secret }), scheduler: at, handler: sumHandler() }),
  createWorker({ transport: tcp({ secret }), scheduler: at }),
]);
const keys = new BigUint64Array([1n, 2n]);
await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2]) }));
console.log(Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 1, 2 ]

// A node with another secret is refused; the server logs the refusal and keeps serving.
const intruder = tcp({ secret: 'not the secret, but long enough' });
await intruder.bind({ id: 'intruder', host: '127.0.0.1', port: 0 }, { listen: false });
const err = await intruder.connect({ host: '127.0.0.1', port: server.node.address.port }).catch((e) => e);
console.log(isPsError(err, PsErrorCode.AUTH)); // true
await intruder.close();
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
