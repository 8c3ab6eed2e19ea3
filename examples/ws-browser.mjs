// A worker on the platform WebSocket, as a browser tab runs it (in a page, the "browser" export
// condition gives dist/browser.js, and `globalThis.WebSocket` is there); on Node 20, `ws`'s.
import { createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { ws, wsBrowser } from '@ps/transport-ws';

const scheduler = await Scheduler.start({ transport: ws(), numServers: 1, numWorkers: 1 });
const at = { host: '127.0.0.1', port: scheduler.address.port }; // in a page: location.hostname
const WebSocket = globalThis.WebSocket ?? (await import('ws')).WebSocket;
const transport = wsBrowser({ WebSocket });
await transport.bind({ id: `tab-${crypto.randomUUID()}`, host: 'browser', port: 0 }, { listen: false });
const [server, { node, worker }] = await Promise.all([
  createServer({ transport: ws(), scheduler: at, handler: sumHandler() }),
  createWorker({ transport, scheduler: at }),
]);
const keys = new BigUint64Array([4n]);
await worker.wait(worker.push({ keys, vals: new Float32Array([2.5]) }));
console.log(Array.from((await worker.wait(worker.pull(keys))).vals)); // [ 2.5 ]
await node.finalize();
await Promise.all([server.node.terminated, scheduler.terminated]);
