import { ws } from '@ps/transport-ws';

// A server (or scheduler) listens; port 0 picks a free port.
const transport = ws();
const addr = await transport.bind({ id: 'server-0', host: '127.0.0.1', port: 0 });

// A worker that only connects out:
const worker = ws();
await worker.bind({ id: 'worker-0', host: '127.0.0.1', port: 0 }, { listen: false });
const peer = await worker.connect({ host: '127.0.0.1', port: addr.port });
console.log(peer); // server-0
await Promise.all([worker.close(), transport.close()]);
