import net from 'node:net';
import { encodeFrame, isPsError, type Message, PsErrorCode } from '@ps/core';
import { runTransportConformance } from '@ps/core/testing';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpTransport, tcp } from './tcp-transport.js';

runTransportConformance({ describe, it, expect, afterEach }, { name: 'tcp', create: () => tcp() });

const msg = (ts: number): Message => ({
  meta: { sender: '', recipient: '', app: 0, ts, request: true, push: false, pull: true },
  data: [new BigUint64Array([1n, 2n])],
});

describe('TcpTransport specifics', () => {
  const open: TcpTransport[] = [];
  const make = (o = {}) => {
    const t = new TcpTransport(o);
    open.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('reconnects after the listener restarts on the same port, and a send made meanwhile arrives', async () => {
    const a = make();
    const addr = await a.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make({ reconnectWindowMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect(addr);
    const lost = firstValueFrom(
      c.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(5000),
      ),
    );
    await a.close();
    await lost;
    const pending = c.send('srv', encodeFrame(msg(5)));
    const b = make();
    await b.bind({ id: 'srv', host: '127.0.0.1', port: addr.port });
    const got = firstValueFrom(b.frames$.pipe(take(1), timeout(10_000)));
    await pending;
    expect((await got).from).toBe('cli');
  });

  it('rejects connect to a closed port with PS_ERR_PEER_UNREACHABLE after its window', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const c = make({ connectTimeoutMs: 300 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const err = await c.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
  });

  it('rejects binding a port in use with PS_ERR_BIND', async () => {
    const a = make();
    const addr = await a.bind({ id: 'a', host: '127.0.0.1', port: 0 });
    const err = await make()
      .bind({ id: 'b', host: '127.0.0.1', port: addr.port })
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.BIND)).toBe(true);
  });

  it('closes a connection that announces an oversized frame and keeps serving others', async () => {
    const s = make({ maxFrameBytes: 1024 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const good = make();
    await good.bind({ id: 'good', host: '127.0.0.1', port: 0 }, { listen: false });
    await good.connect(addr);
    const errors = firstValueFrom(
      s.events$.pipe(
        filter((e) => e.type === 'error'),
        timeout(5000),
      ),
    );
    const raw = net.connect(addr.port, '127.0.0.1');
    const closed = new Promise((r) => raw.on('close', r));
    raw.on('error', () => undefined);
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.FRAME_TOO_LARGE);
    await closed;
    const got = firstValueFrom(s.frames$.pipe(take(1), timeout(5000)));
    await good.send('srv', encodeFrame(msg(3)));
    expect((await got).from).toBe('good');
  });

  it('refuses a connection whose first frame is not a hello, with PS_ERR_HANDSHAKE', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const errors = firstValueFrom(
      s.events$.pipe(
        filter((e) => e.type === 'error'),
        timeout(5000),
      ),
    );
    const raw = net.connect(addr.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const closed = new Promise((r) => raw.on('close', r));
    raw.write(Buffer.from([3, 0, 0, 0, 0xc1, 0xc1, 0xc1]));
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.HANDSHAKE);
    await closed;
  });

  it('closes a connection that never says hello after helloTimeoutMs', async () => {
    const s = make({ helloTimeoutMs: 200 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const raw = net.connect(addr.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const t0 = Date.now();
    await new Promise((r) => raw.on('close', r));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('rejects connect to a peer that is no @ps node with PS_ERR_HANDSHAKE, not a retry loop', async () => {
    const socks: net.Socket[] = [];
    const impostor = net.createServer((sock) => {
      socks.push(sock);
      sock.on('error', () => undefined);
      sock.end(Buffer.from([5, 0, 0, 0, 1, 2, 3, 4, 5]));
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    const port = (impostor.address() as net.AddressInfo).port;
    const c = make({ connectTimeoutMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const t0 = Date.now();
    const err = await c.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    for (const sock of socks) sock.destroy();
    await new Promise((r) => impostor.close(r));
    expect(isPsError(err, PsErrorCode.HANDSHAKE)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('refuses a large frame before the hello, whatever maxFrameBytes allows after it', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const errors = firstValueFrom(
      s.events$.pipe(
        filter((e) => e.type === 'error'),
        timeout(5000),
      ),
    );
    const raw = net.connect(addr.port, '127.0.0.1');
    raw.on('error', () => undefined);
    raw.resume();
    const closed = new Promise((r) => raw.on('close', r));
    raw.write(Buffer.from([0, 0, 0x10, 0])); // announces 1 MiB, far below the 512 MiB maximum
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.FRAME_TOO_LARGE);
    await closed;
  });

  it('honours backpressure: unawaited sends to a peer that stops reading wait for drain, in order', async () => {
    const { encodeHello } = await import('@ps/core');
    const hello = encodeHello('slow');
    let peerSocket: net.Socket | undefined;
    const received: Buffer[] = [];
    const slow = net.createServer((sock) => {
      peerSocket = sock;
      sock.on('error', () => undefined);
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32LE(hello.byteLength);
      sock.write(Buffer.concat([prefix, hello]));
      sock.on('data', (d: Buffer) => received.push(d));
      sock.once('data', () => sock.pause()); // read the client's hello, then stop reading
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const port = (slow.address() as net.AddressInfo).port;
    const c = make();
    await c.bind({ id: 'fast', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect({ host: '127.0.0.1', port });
    const frame = new Uint8Array(1 << 20);
    let resolved = 0;
    const sends = Array.from({ length: 40 }, (_, i) => {
      const f = frame.slice();
      f[0] = i;
      return c.send('slow', [f]).then(() => {
        resolved++;
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    const socket = (c as unknown as { dialed: Map<string, { conn: { socket: net.Socket } }> }).dialed.get(
      'slow',
    )!.conn.socket;
    // At most one frame beyond the high-water mark sits in the socket's buffer; the rest wait.
    expect(socket.writableLength).toBeLessThanOrEqual(socket.writableHighWaterMark + (1 << 20) + 4);
    expect(resolved).toBeLessThan(40);
    peerSocket!.resume();
    await Promise.all(sends);
    const want = 40 * ((1 << 20) + 4);
    const deadline = Date.now() + 5000;
    const helloBytes = 4 + encodeHello('fast').byteLength;
    while (received.reduce((a, b) => a + b.byteLength, 0) < want + helloBytes && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const stream = Buffer.concat(received);
    const all = stream.subarray(4 + stream.readUInt32LE(0)); // past the client's hello
    expect(all.byteLength).toBe(40 * ((1 << 20) + 4));
    for (let i = 0; i < 40; i++) expect(all[i * ((1 << 20) + 4) + 4]).toBe(i);
    peerSocket!.destroy();
    await new Promise((r) => slow.close(r));
  });
});
