import net from 'node:net';
import { BusyPoll, createServer, createWorker, DEFAULT_BUSY_POLL_US, sumHandler } from '@ps/core';
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
  if (role === 'sink' || role === 'echo' || role === 'echo-polled') {
    const windowMs = DEFAULT_BUSY_POLL_US / 1000;
    const server = net.createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('error', () => undefined);
      if (role === 'echo') {
        sock.on('data', (d) => sock.write(d));
        return;
      }
      if (role === 'echo-polled') {
        sock.on('data', (d) => {
          BusyPoll.shared.kick(windowMs);
          sock.write(d);
          BusyPoll.shared.kick(windowMs);
        });
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
  const [host, port] = (process.env.PS_SCHEDULER ?? '').split(':');
  const scheduler = { host: host!, port: Number(port) };
  // CPU time (user + system, µs) on request: the scaling rows charge each process its share.
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'cpu') {
      const u = process.cpuUsage();
      send({ type: 'cpu', us: u.user + u.system });
    }
  });
  if (role === 'worker') {
    await runScalingWorker(scheduler, send);
    return;
  }
  if (role === 'server') {
    const { node } = await createServer({
      transport: peerTransport(),
      scheduler,
      ...(process.env.BENCH_TRANSPORT === 'tcp-no-reuse' ? { keyListReuse: false } : {}),
      handler: sumHandler({ initialCapacity: 1 << 21 }),
    });
    await node.terminated;
    process.exit(0);
  }
  throw new Error(`unknown bench peer role ${role}`);
}

/**
 * A worker of the scaling rows: joins the cluster, says `ready`, then on each `run` message
 * pushes and pulls (pushPull) the same keys, spread evenly over the 64-bit key space, with
 * `inFlight` requests outstanding for `runMs`, and answers with the keys moved, the seconds and
 * the CPU time it took; on `stop` it leaves the cluster.
 */
async function runScalingWorker(
  scheduler: { host: string; port: number },
  send: (m: unknown) => void,
): Promise<void> {
  const { node, worker } = await createWorker({ transport: peerTransport(), scheduler });
  process.on(
    'message',
    async (m: { type?: string; keysPerRequest?: number; inFlight?: number; runMs?: number }) => {
      if (m?.type === 'stop') {
        await node.finalize();
        send({ type: 'stopped' });
        return;
      }
      if (m?.type !== 'run') return;
      const n = m.keysPerRequest!;
      const step = (1n << 64n) / BigInt(n);
      const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * step);
      const vals = new Float32Array(n).fill(1);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const deadline = t0 + m.runMs!;
      let requests = 0;
      await Promise.all(
        Array.from({ length: m.inFlight! }, async () => {
          // Bounded by time and by count.
          for (let i = 0; i < 1_000_000 && performance.now() < deadline; i++) {
            requests++;
            await worker.wait(worker.pushPull({ keys, vals }));
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      send({ type: 'ran', keys: requests * n, seconds, cpuUs: c.user + c.system });
    },
  );
  send({ type: 'ready' });
}
