// Run in a folder holding `secret`, `cert.pem` and `key.pem`.
import { readFileSync } from 'node:fs';
import { ws } from '@ps/transport-ws';

const secret = readFileSync('secret', 'utf8').trim(); // the same for every node
const tls = { cert: readFileSync('cert.pem'), key: readFileSync('key.pem'), ca: readFileSync('cert.pem') };
const server = ws({ secret, tls });
const { port } = await server.bind({ id: 'server-0', host: '127.0.0.1', port: 0 });

const worker = ws({ secret, tls: { ca: tls.ca } }); // wss://, checked against the CA
await worker.bind({ id: 'worker-0', host: '127.0.0.1', port: 0 }, { listen: false });
console.log(await worker.connect({ host: '127.0.0.1', port })); // server-0
await Promise.all([worker.close(), server.close()]);
