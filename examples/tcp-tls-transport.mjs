// Run in a folder holding `secret`, `cert.pem` and `key.pem`.
import { readFileSync } from 'node:fs';
import { tcp } from '@ps/transport-tcp';

const secret = readFileSync('secret', 'utf8').trim(); // openssl rand -base64 32 > secret
const tls = { cert: readFileSync('cert.pem'), key: readFileSync('key.pem'), ca: readFileSync('cert.pem') };
const transport = tcp({ secret, tls }); // the same secret and tls for every node
const { port } = await transport.bind({ id: 'server-0', host: '127.0.0.1', port: 0 });

const client = tcp({ secret, tls: { ca: tls.ca } }); // a node that only dials needs the CA
await client.bind({ id: 'worker-0', host: '127.0.0.1', port: 0 }, { listen: false });
console.log(await client.connect({ host: '127.0.0.1', port })); // server-0: authenticated, over TLS
await Promise.all([client.close(), transport.close()]);
