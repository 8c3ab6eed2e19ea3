import net from 'node:net';
import { encodeFrame, encodeHello, isPsError, type Message, PsErrorCode } from '@ps/core';
import { runTransportConformance, selfSignedCertificate, TEST_SECRET } from '@ps/core/testing';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { WsTransport, ws } from './ws-transport.js';

const api = { describe, it, expect, afterEach };
// The message layer's own guarantees (hello timeout, pending-handshake caps per channel, the
// hello's frame limit, rate limit, reconnect, slow peers) run over ws in ws-frame-transport.test.ts
// (runMessageLayerSuite); this file keeps the node-facing contract and what is the WebSocket's own.
runTransportConformance(api, { name: 'ws', create: () => ws(), secure: (secret) => ws({ secret }) });
runTransportConformance(api, { name: 'ws with a secret', create: () => ws({ secret: TEST_SECRET }) });
// A certificate made now for 127.0.0.1; each end trusts it as its own authority.
const pem = await selfSignedCertificate();
const tlsOptions = { cert: pem.cert, key: pem.key, ca: pem.cert };
runTransportConformance(api, {
  name: 'wss with a secret',
  create: () => ws({ secret: TEST_SECRET, tls: tlsOptions }),
  secure: (secret) => ws({ secret, tls: tlsOptions }),
});

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

  it('refuses a connection whose first message is not a hello: bytes with PS_ERR_HANDSHAKE (after the error frame, a clean close), text with PS_ERR_FRAME_MALFORMED (1003)', async () => {
    const s = make();
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    // The medium refuses text itself, whatever the layer expects; bytes that are no hello fail the handshake.
    for (const [first, code, close] of [
      ['not binary', PsErrorCode.FRAME_MALFORMED, 1003],
      [new Uint8Array([0xc1, 0xc1, 0xc1]), PsErrorCode.HANDSHAKE, 1000],
    ] as const) {
      const errors = firstError(s);
      const raw = rawClient(addr.port);
      await raw.opened;
      raw.sock.send(first);
      const ev = await errors;
      expect(ev.type === 'error' ? ev.error.code : undefined).toBe(code);
      expect(await raw.closed).toBe(close);
    }
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
    let stopped!: () => void;
    const stoppedReading = new Promise<void>((r) => (stopped = r));
    const slow = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => slow.once('listening', r));
    slow.on('connection', (sock) => {
      sock.send(hello);
      peerSocket = (sock as unknown as { _socket: net.Socket })._socket;
      sock.on('message', (d: Buffer) => received.push(d));
      sock.once('message', () => {
        peerSocket!.pause(); // read the client's hello, then stop reading
        stopped();
      });
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
    // The medium's socket under the message layer's link to 'slow'.
    type Inside = {
      peers: { dialed: Map<string, { link: { channel: { socket: { bufferedAmount: number } } } }> };
    };
    const socket = (c as unknown as Inside).peers.dialed.get('slow')!.link.channel.socket;
    // Once the peer stopped reading, wait (bounded) for the kernel's buffers to fill: then the
    // socket buffers past the mark.
    await stoppedReading;
    for (let i = 0; i < 500 && socket.bufferedAmount <= 1 << 20; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(socket.bufferedAmount).toBeGreaterThan(1 << 20);
    // At most one frame beyond the high-water mark sits in the socket's buffer; the rest wait.
    expect(socket.bufferedAmount).toBeLessThanOrEqual((1 << 20) + (1 << 20) + 64);
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

describe('WsTransport security', () => {
  const open: WsTransport[] = [];
  const make = (o = {}) => {
    const t = new WsTransport(o);
    open.push(t);
    return t;
  };
  const raws: net.Socket[] = [];
  const raw = (port: number) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.resume();
    raws.push(sock);
    return sock;
  };
  const closed = (sock: net.Socket) =>
    new Promise<void>((r) => (sock.destroyed ? r() : sock.once('close', () => r())));
  const errorOf = (t: WsTransport, code: string) =>
    firstValueFrom(
      t.events$.pipe(
        filter((e) => e.type === 'error' && e.error.code === code),
        timeout(10_000),
      ),
    );
  afterEach(async () => {
    for (const sock of raws.splice(0)) sock.destroy();
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('refuses a ws:// client on a wss port, logged, and keeps serving wss clients', async () => {
    const s = make({ secret: TEST_SECRET, tls: tlsOptions });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const logged = errorOf(s, PsErrorCode.AUTH);
    // A TLS server closes on a plain upgrade request without a word, which looks like a peer
    // going away: the dialer retries until connectTimeoutMs, then names the likely cause.
    const plain = make({ secret: TEST_SECRET, connectTimeoutMs: 1000 });
    await plain.bind({ id: 'plain', host: '127.0.0.1', port: 0 }, { listen: false });
    const err = await plain.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    expect((err as Error).message).toMatch(/wss:\/\/ port/);
    await logged;
    const good = make({ secret: TEST_SECRET, tls: tlsOptions });
    await good.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await good.connect(addr);
    const got = firstValueFrom(s.frames$.pipe(take(1), timeout(5000)));
    await good.send('srv', encodeFrame(msg(1)));
    expect((await got).from).toBe('cli');
  });

  it('refuses a wss:// client on a plain port at once, each side saying why', async () => {
    const s = make({ secret: TEST_SECRET });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const logged = errorOf(s, PsErrorCode.HANDSHAKE);
    const c = make({ secret: TEST_SECRET, tls: tlsOptions, connectTimeoutMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const t0 = Date.now();
    const err = await c.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
    const ev = await logged;
    expect(ev.type === 'error' && ev.error.message).toMatch(/speaks TLS/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('refuses a certificate the dialer does not trust with PS_ERR_AUTH, without retrying', async () => {
    const s = make({ tls: tlsOptions });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make({ tls: {}, connectTimeoutMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const t0 = Date.now();
    const err = await c.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('closes silent connections (before and after the upgrade) and refuses those beyond maxPendingHandshakes', async () => {
    const s = make({ secret: TEST_SECRET, helloTimeoutMs: 400, maxPendingHandshakes: 4 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const capped = errorOf(s, PsErrorCode.RATE_LIMIT);
    const t0 = Date.now();
    // Three never send a byte, one upgrades and then says nothing, eight more are refused.
    const socks = Array.from({ length: 3 }, () => raw(addr.port));
    const upgraded = rawClient(addr.port);
    await upgraded.opened;
    const rest = Array.from({ length: 8 }, () => raw(addr.port));
    const when = await Promise.all(
      [...socks, ...rest].map((sock) => closed(sock).then(() => Date.now() - t0)),
    );
    expect(when.slice(3).every((ms) => ms < 350)).toBe(true);
    expect(Math.min(...when.slice(0, 3))).toBeGreaterThanOrEqual(350);
    expect(Math.max(...when)).toBeLessThan(5000);
    expect(await upgraded.closed).toBe(1008);
    await capped;
    const c = make({ secret: TEST_SECRET });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await c.connect(addr)).toBe('srv');
  });

  it('refuses silent connections from one address past maxPendingHandshakesPerSource, not those from another', async () => {
    const s = make({ helloTimeoutMs: 60_000, maxPendingHandshakesPerSource: 3 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const capped = errorOf(s, PsErrorCode.RATE_LIMIT);
    const flood = Array.from({ length: 10 }, () => {
      const sock = net.connect({ port: addr.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      sock.on('error', () => undefined);
      sock.resume();
      raws.push(sock);
      return sock;
    });
    await Promise.all(flood.slice(3).map(closed));
    expect(flood.filter((sock) => !sock.destroyed).length).toBe(3);
    const ev = await capped;
    expect(ev.type === 'error' ? ev.error.message : '').toMatch(
      /3 connections from 127\.0\.0\.2 are waiting/,
    );
    const c = make();
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await c.connect(addr)).toBe('srv');
  });

  it('closes connections past maxConnections with PS_ERR_CONNECTION_LIMIT', async () => {
    const s = make({ maxConnections: 2 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const full = errorOf(s, PsErrorCode.CONNECTION_LIMIT);
    const clients = [make(), make()];
    for (const [i, c] of clients.entries()) {
      await c.bind({ id: `cli-${i}`, host: '127.0.0.1', port: 0 }, { listen: false });
      await c.connect(addr);
    }
    await closed(raw(addr.port));
    await full;
    await clients[0]!.close();
    const late = make();
    await late.bind({ id: 'late', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await late.connect(addr)).toBe('srv');
  });

  it('closes a wss connection that never starts its TLS handshake', async () => {
    const s = make({ tls: tlsOptions, helloTimeoutMs: 300 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const t0 = Date.now();
    await closed(raw(addr.port));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
