import net from 'node:net';
import { createServer, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { ws } from '@ps/transport-ws';

/** The bench server's transport, from BENCH_TRANSPORT (and BENCH_TLS_CERT/KEY for `tcp-tls`). */
function peerTransport() {
  const { BENCH_TRANSPORT: kind, BENCH_TLS_CERT: cert, BENCH_TLS_KEY: key } = process.env;
  if (kind === 'ws') return ws();
  if (kind === 'tcp-tls' && cert && key) {
    return tcp({ secret: 'bench-secret-not-for-real-clusters', tls: { cert, key, ca: cert } });
  }
  return tcp();
}

/**
 * The far side of a benchmark, in a child process: a byte sink or an echo on raw `node:net`
 * (for the machine's ceilings), or a @ps server with the sum handler (for the TCP and WebSocket
 * rows; BENCH_TRANSPORT=ws picks WebSocket, tcp-tls TCP over TLS with a secret, tcp-no-reuse
 * turns key-list reuse off).
 * Reports on the IPC channel and exits when the parent goes away.
 */
export async function runBenchPeer(role: string): Promise<void> {
  const send = (m: unknown) => process.send?.(m);
  process.on('disconnect', () => process.exit(0));
  if (role === 'sink' || role === 'echo') {
    const server = net.createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('error', () => undefined);
      if (role === 'echo') {
        sock.on('data', (d) => sock.write(d));
        return;
      }
      // The sink acknowledges every `ackEvery` bytes with one byte, so the sender can time delivery.
      let count = 0;
      let ackEvery = 0;
      sock.on('data', (d: Buffer) => {
        if (ackEvery === 0) {
          ackEvery = d.readUInt32LE(0);
          count = d.byteLength - 4;
        } else count += d.byteLength;
        while (ackEvery > 0 && count >= ackEvery) {
          count -= ackEvery;
          sock.write(Buffer.from([1]));
        }
      });
    });
    server.listen(0, '127.0.0.1', () => send({ port: (server.address() as net.AddressInfo).port }));
    return;
  }
  if (role === 'server') {
    const [host, port] = (process.env.PS_SCHEDULER ?? '').split(':');
    const { node } = await createServer({
      transport: peerTransport(),
      scheduler: { host: host!, port: Number(port) },
      ...(process.env.BENCH_TRANSPORT === 'tcp-no-reuse' ? { keyListReuse: false } : {}),
      handler: sumHandler({ initialCapacity: 1 << 21 }),
    });
    await node.terminated;
    process.exit(0);
  }
  throw new Error(`unknown bench peer role ${role}`);
}
