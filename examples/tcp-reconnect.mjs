import { encodeFrame, isPsError, PsErrorCode } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { firstValueFrom } from 'rxjs';

const meta = { sender: '', recipient: '', app: 0, ts: 0, request: true, push: false, pull: true };
const frame = () => encodeFrame({ meta, data: [new BigUint64Array([7n])] });

const first = tcp();
const { port } = await first.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
const client = tcp({ reconnectWindowMs: 2_000 });
client.events$.subscribe((e) => console.log('client event:', e.type, e.peer ?? '', e.error?.code ?? ''));
await client.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
await client.connect({ host: '127.0.0.1', port });

// The server goes away and comes back on the same port 300 ms later.
await first.close();
setTimeout(async () => {
  const second = tcp();
  await second.bind({ id: 'srv', host: '127.0.0.1', port });
  const got = await firstValueFrom(second.frames$);
  console.log('the new server got a frame from', got.from);
  setTimeout(() => second.close(), 100);
}, 300);

// This send waits for the reconnect instead of failing.
await client.send('srv', frame());
console.log('send resolved after the reconnect');

// Once a reconnect fails for reconnectWindowMs, waiting sends reject and the peer is forgotten.
await new Promise((r) => setTimeout(r, 200));
const err = await client.send('srv', frame()).catch((e) => e);
console.log(isPsError(err, PsErrorCode.PEER_UNREACHABLE) ? 'PS_ERR_PEER_UNREACHABLE' : err);
await client.close();
