import net from 'node:net';
import { encodeFrame, encodeHello, isPsError, type Message, PsErrorCode } from '@ps/core';
import { runTransportConformance } from '@ps/core/testing';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { WsTransport, ws } from './ws-transport.js';

runTransportConformance({ describe, it, expect, afterEach }, { name: 'ws', create: () => ws() });

const msg = (ts: number): Message => ({
  meta: { sender: '', recipient: '', app: 0, ts, request: true, push: false, pull: true },
  data: [new BigUint64Array([1n, 2n])],
});

/** A raw `ws` client that says hello as `id` (or not) and records what happens. */
function rawClient(port: number, id?: string) {
  const sock = new WebSocket(`ws://127.0.0.1:${port}/`);
  sock.on('error', () => undefined);
  const opened = new Promise<void>((r) => sock.once('open', () => r()));
  if (id !== undefined) void opened.then(() => sock.send(encodeHello(id)));
  const closed = new Promise<number>((r) => sock.once('close', (code) => r(code)));
  return { sock, opened, closed };
}

const firstError = (t: WsTransport) =>
  firstValueFrom(
    t.events$.pipe(
      filter((e) => e.type === 'error'),
      timeout(5000),
    ),
  );

describe('WsTransport specifics', () => {
  const open: WsTransport[] = [];
  const make = (o = {}) => {
    const t = new WsTransport(o);
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

  it('fails sends waiting for a reconnect with PS_ERR_PEER_UNREACHABLE once the window passes', async () => {
    const a = make();
    const addr = await a.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make({ reconnectWindowMs: 300 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect(addr);
    const lost = firstValueFrom(c.events$.pipe(filter((e) => e.type === 'disconnected')));
    await a.close();
    await lost;
    const err = await c.send('srv', encodeFrame(msg(1))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
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

  it('bind with listen: false records the id only', async () => {
    const c = make();
    const addr = await c.bind({ id: 'cli', host: '127.0.0.1', port: 4321 }, { listen: false });
    expect(addr).toEqual({ id: 'cli', host: '127.0.0.1', port: 0 });
  });

  it('refuses to send a frame above maxFrameBytes with PS_ERR_FRAME_TOO_LARGE', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make({ maxFrameBytes: 1024 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect(addr);
    const err = await c.send('srv', [new Uint8Array(600), new Uint8Array(600)]).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
  });

  it('closes a connection that sends an oversized message and keeps serving others', async () => {
    const s = make({ maxFrameBytes: 1024 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const good = make();
    await good.bind({ id: 'good', host: '127.0.0.1', port: 0 }, { listen: false });
    await good.connect(addr);
    const bad = rawClient(addr.port, 'bad');
    await firstValueFrom(s.events$.pipe(filter((e) => e.type === 'connected' && e.peer === 'bad')));
    const errors = firstError(s);
    bad.sock.send(new Uint8Array(4096));
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.FRAME_TOO_LARGE);
    expect(await bad.closed).toBe(1009);
    const got = firstValueFrom(s.frames$.pipe(take(1), timeout(5000)));
    await good.send('srv', encodeFrame(msg(3)));
    expect((await got).from).toBe('good');
  });

  it('refuses a large message before the hello, whatever maxFrameBytes allows after it', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const errors = firstError(s);
    const raw = rawClient(addr.port);
    await raw.opened;
    raw.sock.send(new Uint8Array(1 << 20));
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.FRAME_TOO_LARGE);
    expect(await raw.closed).toBe(1009); // refused by ws's receiver at the frame header, not buffered
  });

  it('closes a connection that sends a text message, and keeps serving others', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const good = make();
    await good.bind({ id: 'good', host: '127.0.0.1', port: 0 }, { listen: false });
    await good.connect(addr);
    const bad = rawClient(addr.port, 'texter');
    await firstValueFrom(s.events$.pipe(filter((e) => e.type === 'connected' && e.peer === 'texter')));
    const errors = firstError(s);
    const lost = firstValueFrom(
      s.events$.pipe(filter((e) => e.type === 'disconnected' && e.peer === 'texter')),
    );
    bad.sock.send('hello as text');
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.FRAME_MALFORMED);
    expect(ev.type === 'error' ? ev.peer : undefined).toBe('texter');
    expect(await bad.closed).toBe(1003);
    await lost;
    const got = firstValueFrom(s.frames$.pipe(take(1), timeout(5000)));
    await good.send('srv', encodeFrame(msg(4)));
    expect((await got).from).toBe('good');
    const back = firstValueFrom(good.frames$.pipe(take(1), timeout(5000)));
    await s.send('good', encodeFrame(msg(5)));
    expect((await back).from).toBe('srv');
  });

  it('refuses a connection whose first message is not a hello (text or bytes), with PS_ERR_HANDSHAKE', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    for (const first of ['not binary', new Uint8Array([0xc1, 0xc1, 0xc1])]) {
      const errors = firstError(s);
      const raw = rawClient(addr.port);
      await raw.opened;
      raw.sock.send(first);
      const ev = await errors;
      expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.HANDSHAKE);
      expect(await raw.closed).toBe(1008);
    }
  });

  it('closes a connection that never says hello after helloTimeoutMs', async () => {
    const s = make({ helloTimeoutMs: 200 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const errors = firstError(s);
    const raw = rawClient(addr.port);
    await raw.opened;
    const t0 = Date.now();
    await raw.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.HANDSHAKE);
  });

  it('rejects connect to a WebSocket server that is no @ps node with PS_ERR_HANDSHAKE, not a retry loop', async () => {
    const impostor = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => impostor.once('listening', r));
    impostor.on('connection', (sock) => sock.send(new Uint8Array([1, 2, 3, 4, 5])));
    const port = (impostor.address() as net.AddressInfo).port;
    const c = make({ connectTimeoutMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const t0 = Date.now();
    const err = await c.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    for (const sock of impostor.clients) sock.terminate();
    await new Promise((r) => impostor.close(r));
    expect(isPsError(err, PsErrorCode.HANDSHAKE)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('rejects connect to an HTTP server that refuses the upgrade with PS_ERR_HANDSHAKE', async () => {
    const { createServer } = await import('node:http');
    const http = createServer((_q, res) => {
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as net.AddressInfo).port;
    const c = make({ connectTimeoutMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const t0 = Date.now();
    const err = await c.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    expect(isPsError(err, PsErrorCode.HANDSHAKE)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('sends a multi-part frame as one message', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make();
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect(addr);
    const parts = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3]), new Uint8Array([4, 5, 6])];
    const atServer = firstValueFrom(s.frames$.pipe(take(1), timeout(5000)));
    await c.send('srv', parts);
    expect(Array.from((await atServer).frame as Uint8Array)).toEqual([1, 2, 3, 4, 5, 6]);
    const atClient = firstValueFrom(c.frames$.pipe(take(2), toArray(), timeout(5000)));
    await s.send('cli', parts);
    await s.send('cli', []);
    const [whole, empty] = await atClient;
    expect(Array.from(whole!.frame as Uint8Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((empty!.frame as Uint8Array).byteLength).toBe(0);
  });

  it('honours backpressure: unawaited sends to a peer that stops reading wait, in order', async () => {
    const hello = encodeHello('slow');
    let peerSocket: net.Socket | undefined;
    const received: Buffer[] = [];
    const slow = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => slow.once('listening', r));
    slow.on('connection', (sock) => {
      sock.send(hello);
      peerSocket = (sock as unknown as { _socket: net.Socket })._socket;
      sock.on('message', (d: Buffer) => received.push(d));
      sock.once('message', () => peerSocket!.pause()); // read the client's hello, then stop reading
    });
    const port = (slow.address() as net.AddressInfo).port;
    const c = make({ highWaterMarkBytes: 1 << 20 });
    await c.bind({ id: 'fast', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect({ host: '127.0.0.1', port });
    const frame = new Uint8Array(1 << 20);
    let resolved = 0;
    const sends = Array.from({ length: 40 }, (_, i) => {
      const f = frame.slice();
      f[0] = i;
      return c.send('slow', [f.subarray(0, 10), f.subarray(10)]).then(() => {
        resolved++;
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    const conn = [...(c as unknown as { conns: Set<{ socket: { bufferedAmount: number } }> }).conns][0]!;
    // At most one frame beyond the high-water mark sits in the socket's buffer; the rest wait.
    expect(conn.socket.bufferedAmount).toBeLessThanOrEqual((1 << 20) + (1 << 20) + 64);
    expect(resolved).toBeLessThan(40);
    peerSocket!.resume();
    await Promise.all(sends);
    const deadline = Date.now() + 5000;
    while (received.length < 41 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(received.length).toBe(41);
    for (let i = 0; i < 40; i++) {
      expect(received[i + 1]!.byteLength).toBe(1 << 20);
      expect(received[i + 1]![0]).toBe(i);
    }
    for (const sock of slow.clients) sock.terminate();
    await new Promise((r) => slow.close(r));
  });

  it('rejects sends pending on a reconnect with PS_ERR_CLOSED when closed', async () => {
    const a = make();
    const addr = await a.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make({ reconnectWindowMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect(addr);
    const lost = firstValueFrom(c.events$.pipe(filter((e) => e.type === 'disconnected')));
    await a.close();
    await lost;
    const pending = c.send('srv', encodeFrame(msg(1))).catch((e: unknown) => e);
    await c.close();
    expect(isPsError(await pending, PsErrorCode.CLOSED)).toBe(true);
  });
});
