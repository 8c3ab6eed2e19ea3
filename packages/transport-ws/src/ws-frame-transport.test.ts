import type { AddressInfo } from 'node:net';
import { connect as netConnect, type Socket } from 'node:net';
import {
  type FrameChannel,
  type FrameChannelLimits,
  InboundBudget,
  isPsError,
  type PsError,
  PsError as PsErrorClass,
  PsErrorCode,
} from '@ps/core';
import { runFrameTransportConformance, runMessageLayerSuite, selfSignedCertificate } from '@ps/core/testing';
import { firstValueFrom, lastValueFrom, type Observable, take, timeout, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { WsChannel } from './internal/ws-channel.js';
import { WsFrameTransport } from './ws-frame-transport.js';

const api = { describe, it, expect, afterEach };
runFrameTransportConformance(api, 'ws', () => new WsFrameTransport());
const tlsPair = await selfSignedCertificate();
runFrameTransportConformance(
  api,
  'ws over TLS (wss)',
  () => new WsFrameTransport({ tls: { cert: tlsPair.cert, key: tlsPair.key, ca: tlsPair.cert } }),
);

// The message layer's guarantees over this medium; a test stops a channel's reading at its socket.
const stopReading = (ch: FrameChannel) => (ch as unknown as { socket: { ws: WebSocket } }).socket.ws.pause();
runMessageLayerSuite(api, 'over ws', () => new WsFrameTransport(), { stopReading });
runMessageLayerSuite(
  api,
  'over wss',
  () => new WsFrameTransport({ tls: { cert: tlsPair.cert, key: tlsPair.key, ca: tlsPair.cert } }),
  { stopReading },
);

const limits = (maxFrameBytes = 1 << 20): FrameChannelLimits => ({
  maxFrameBytes,
  budget: new InboundBudget(),
});

const made: WsFrameTransport[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(made.splice(0).map((t) => t.close()));
});
const track = (t: WsFrameTransport) => {
  made.push(t);
  return t;
};

/** A listening transport whose accepted channels arrive on `accepted()`, in order. */
async function listener(opts = {}, max = 1 << 20) {
  const t = track(new WsFrameTransport(opts));
  const waiting: ((ch: FrameChannel) => void)[] = [];
  const early: FrameChannel[] = [];
  const at = await t.listen(
    { host: '127.0.0.1', port: 0 },
    () => limits(max),
    (ch) => {
      const w = waiting.shift();
      if (w) w(ch);
      else early.push(ch);
    },
  );
  const accepted = () =>
    early.length > 0
      ? Promise.resolve(early.shift()!)
      : new Promise<FrameChannel>((r, j) => {
          waiting.push(r);
          setTimeout(() => j(new Error('no channel accepted within 10 s')), 10_000).unref();
        });
  return { t, at, accepted };
}

const frames = (ch: FrameChannel, n: number) =>
  firstValueFrom(ch.frames$.pipe(take(n), toArray(), timeout(10_000))) as Promise<unknown> as Promise<
    Uint8Array[]
  >;
const ending = (o: Observable<unknown>) =>
  lastValueFrom(o.pipe(timeout(10_000)), { defaultValue: 'completed' }).then(
    () => 'completed',
    (e: unknown) => e as PsError,
  );

/** Opens a TCP connection and upgrades it by hand; resolves once the 101 arrived. */
function rawUpgrade(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1');
    sockets.push(s);
    s.once('error', reject);
    s.once('connect', () =>
      s.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    s.once('data', (d) =>
      /^HTTP\/1\.1 101/.test(d.toString()) ? resolve(s) : reject(new Error(d.toString())),
    );
  });
}

describe('WsFrameTransport', () => {
  it('carries frames both ways in order, a multi-part frame as one message, with the remote IP as source', async () => {
    const { t, at, accepted } = await listener();
    const ch = await t.dial(at, limits(), 5000);
    const server = await accepted();
    expect(server.source).toBe('127.0.0.1');
    expect(ch.source).toBe('127.0.0.1');
    const got = frames(server, 500);
    for (let i = 0; i < 499; i++) void ch.send([Uint8Array.of(i & 255, i >> 8)]);
    await ch.send([Uint8Array.of(1, 2), Uint8Array.of(3), Uint8Array.of(4, 5, 6)]);
    const f = await got;
    expect(f.slice(0, 499).map((b) => b[0]! + b[1]! * 256)).toEqual([...Array(499).keys()]);
    expect(Array.from(f[499]!)).toEqual([1, 2, 3, 4, 5, 6]);
    const back = frames(ch, 1);
    await server.send([Uint8Array.of(9)]);
    expect(Array.from((await back)[0]!)).toEqual([9]);
  });

  it('refuses to send a frame above its maxFrameBytes with PS_ERR_FRAME_TOO_LARGE, and the channel stays usable', async () => {
    const { at, accepted } = await listener();
    const client = track(new WsFrameTransport({ maxFrameBytes: 1000 }));
    const ch = await client.dial(at, limits(), 5000);
    const server = await accepted();
    const err = await ch.send([new Uint8Array(1001)]).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    const got = frames(server, 1);
    await ch.send([new Uint8Array(1000)]);
    expect((await got)[0]!.byteLength).toBe(1000);
  });

  it('refuses a message above the channel limit from its header, before its payload is buffered', async () => {
    const { at, accepted } = await listener({}, 4096);
    const raw = await rawUpgrade(at.port);
    const server = await accepted();
    const end = ending(server.frames$);
    // A masked binary frame announcing 100 MB, and no payload at all.
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(100_000_000n, 2);
    raw.write(header);
    const err = (await end) as PsError;
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    expect(err.message).toMatch(/127\.0\.0\.1 sent a message larger than the 4096 bytes allowed/);
    await new Promise<void>((r) => (raw.destroyed ? r() : raw.once('close', () => r())));
  });

  it('raises the limit with setMaxFrameBytes', async () => {
    const { t, at, accepted } = await listener({}, 4096);
    const ch = await t.dial(at, limits(), 5000);
    const server = await accepted();
    server.setMaxFrameBytes(100_000);
    const got = frames(server, 1);
    await ch.send([new Uint8Array(100_000).fill(7)]);
    const [f] = await got;
    expect(f!.byteLength).toBe(100_000);
    expect(f![99_999]).toBe(7);
    server.setMaxFrameBytes(10);
    const end = ending(server.frames$);
    await ch.send([new Uint8Array(11)]);
    expect(isPsError(await end, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
  });

  it('errors frames$ with PS_ERR_FRAME_MALFORMED on a text message', async () => {
    const { at, accepted } = await listener();
    const c = new WebSocket(`ws://127.0.0.1:${at.port}/`);
    await new Promise((r) => c.once('open', r));
    const server = await accepted();
    const end = ending(server.frames$);
    c.send('hello');
    expect(isPsError(await end, PsErrorCode.FRAME_MALFORMED)).toBe(true);
    const code = await new Promise<number>((r) => c.once('close', r));
    expect(code).toBe(1003);
  });

  it('a clean close flushes queued frames, then completes frames$ at both ends', async () => {
    const { t, at, accepted } = await listener();
    const ch = await t.dial(at, limits(), 5000);
    const server = await accepted();
    const got = lastValueFrom(server.frames$.pipe(toArray(), timeout(10_000)));
    const sends = Array.from({ length: 20 }, () => ch.send([new Uint8Array(200_000)]));
    ch.close();
    await Promise.all(sends);
    expect((await got).length).toBe(20);
    expect(await ending(ch.frames$)).toBe('completed');
    const err = await ch.send([Uint8Array.of(1)]).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CLOSED)).toBe(true);
  });

  it('close(reason) rejects pending sends with it, and the peer sees a failure', async () => {
    const { t, at, accepted } = await listener({ highWaterMarkBytes: 0 });
    const ch = await t.dial(at, limits(), 5000);
    const server = await accepted();
    const peerEnd = ending(ch.frames$);
    const reason = new PsErrorClass(PsErrorCode.SLOW_PEER, 'test: too slow');
    const sends = Array.from({ length: 50 }, () =>
      server.send([new Uint8Array(1 << 20)]).catch((e: unknown) => e),
    );
    server.close(reason);
    const results = await Promise.all(sends);
    expect(results.some((r) => r === reason)).toBe(true);
    expect(results.every((r) => r === undefined || r === reason)).toBe(true);
    expect(isPsError(await peerEnd, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
  });

  it('holds sends back while the socket buffers more than highWaterMarkBytes, in order, to a peer that stops reading', async () => {
    const received: Buffer[] = [];
    const slow = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => slow.once('listening', r));
    let peer: WebSocket | undefined;
    slow.on('connection', (sock) => {
      peer = sock;
      sock.pause();
      sock.on('message', (d: Buffer) => received.push(d));
    });
    try {
      const port = (slow.address() as AddressInfo).port;
      const hwm = 1 << 20;
      const client = track(new WsFrameTransport({ highWaterMarkBytes: hwm }));
      const ch = (await client.dial({ host: '127.0.0.1', port }, limits(), 5000)) as unknown as WsChannel;
      const socket = (ch as unknown as { socket: { bufferedAmount: number } }).socket;
      let resolved = 0;
      const sends = Array.from({ length: 40 }, (_, i) => {
        const f = new Uint8Array(1 << 20);
        f[0] = i;
        return ch.send([f.subarray(0, 10), f.subarray(10)]).then(() => {
          resolved++;
        });
      });
      expect(ch.queuedBytes).toBeLessThanOrEqual((40 << 20) + 40 * 14);
      // Wait (bounded) for the kernel's buffers to fill: then the socket buffers past the mark.
      for (let i = 0; i < 500 && socket.bufferedAmount <= hwm; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(socket.bufferedAmount).toBeGreaterThan(hwm);
      // At most one frame beyond the high-water mark sits in the socket's buffer; the rest wait.
      expect(socket.bufferedAmount).toBeLessThanOrEqual(hwm + (1 << 20) + 64);
      expect(resolved).toBeLessThan(40);
      expect(ch.queuedBytes).toBeGreaterThan(hwm);
      peer!.resume();
      await Promise.all(sends);
      for (let i = 0; i < 500 && received.length < 40; i++) await new Promise((r) => setTimeout(r, 10));
      expect(received.map((d) => [d.byteLength, d[0]])).toEqual(
        Array.from({ length: 40 }, (_, i) => [1 << 20, i]),
      );
    } finally {
      for (const sock of slow.clients) sock.terminate();
      await new Promise((r) => slow.close(r));
    }
  });

  it('rejects dials to a closed port with PS_ERR_PEER_UNREACHABLE and to a non-WebSocket HTTP server with PS_ERR_HANDSHAKE', async () => {
    const { at } = await listener();
    const t = track(new WsFrameTransport());
    const closedPort = await new Promise<number>((r) => {
      const s = netConnect(at.port, '127.0.0.1');
      s.once('connect', () => {
        const p = s.localPort!;
        s.destroy();
        r(p);
      });
    });
    const err = await t
      .dial({ host: '127.0.0.1', port: closedPort }, limits(), 2000)
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    const http = await import('node:http');
    const plain = http.createServer((_q, s) => s.writeHead(404).end());
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const port = (plain.address() as { port: number }).port;
      const e2 = await t.dial({ host: '127.0.0.1', port }, limits(), 2000).catch((e: unknown) => e);
      expect(isPsError(e2, PsErrorCode.HANDSHAKE)).toBe(true);
      expect((e2 as Error).message).toMatch(/not a @ps WebSocket endpoint: Unexpected server response: 404/);
    } finally {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    }
  });

  it('rejects listening on a port in use with PS_ERR_BIND, and answers plain HTTP with 426', async () => {
    const { at } = await listener();
    const err = await track(new WsFrameTransport())
      .listen(
        at,
        () => limits(),
        () => undefined,
      )
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.BIND)).toBe(true);
    const res = await fetch(`http://127.0.0.1:${at.port}/`);
    expect(res.status).toBe(426);
    await res.text();
  });

  it('closes a connection that does not upgrade within upgradeTimeoutMs, reported on refusals$', async () => {
    const { t, at } = await listener({ upgradeTimeoutMs: 300 });
    const refusal = firstValueFrom(t.refusals$.pipe(timeout(10_000)));
    const s = netConnect(at.port, '127.0.0.1');
    sockets.push(s);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    const e = await refusal;
    expect(isPsError(e, PsErrorCode.HANDSHAKE)).toBe(true);
    expect(e.message).toMatch(/did not upgrade to a WebSocket within 300 ms/);
    await closed;
  });

  it('refuses connections past maxPendingUpgradesPerSource with PS_ERR_RATE_LIMIT', async () => {
    const { t, at, accepted } = await listener({ maxPendingUpgradesPerSource: 2 });
    const refusal = firstValueFrom(t.refusals$.pipe(timeout(10_000)));
    const silent = [0, 1].map(() => netConnect(at.port, '127.0.0.1'));
    sockets.push(...silent);
    await Promise.all(silent.map((s) => new Promise((r) => s.once('connect', r))));
    const third = netConnect(at.port, '127.0.0.1');
    sockets.push(third);
    expect(isPsError(await refusal, PsErrorCode.RATE_LIMIT)).toBe(true);
    await new Promise<void>((r) => third.once('close', () => r()));
    for (const s of silent) s.destroy();
    await Promise.all(silent.map((s) => new Promise((r) => s.once('close', r))));
    // The places are free again: a WebSocket upgrades.
    const ch = await t.dial(at, limits(), 5000);
    const server = await accepted();
    const got = frames(server, 1);
    await ch.send([Uint8Array.of(5)]);
    expect(Array.from((await got)[0]!)).toEqual([5]);
  });

  it('close() rejects pending sends with PS_ERR_CLOSED, ends every channel and stops listening', async () => {
    const { t, at, accepted } = await listener({ highWaterMarkBytes: 0 });
    const ch = await t.dial(at, limits(), 5000);
    await accepted();
    const sends = Array.from({ length: 30 }, () =>
      ch.send([new Uint8Array(1 << 20)]).catch((e: unknown) => e),
    );
    await t.close();
    const results = await Promise.all(sends);
    expect(results.filter((r) => r !== undefined).every((r) => isPsError(r, PsErrorCode.CLOSED))).toBe(true);
    expect(results.some((r) => r !== undefined)).toBe(true);
    expect(await ending(ch.frames$)).toBe('completed');
    const err = await new WsFrameTransport().dial(at, limits(), 1000).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
  });

  it('speaks wss with tls; a dialer that does not trust the certificate fails with PS_ERR_AUTH', async () => {
    const { cert, key } = await selfSignedCertificate();
    const { at, accepted } = await listener({ tls: { cert, key } });
    const good = track(new WsFrameTransport({ tls: { ca: cert } }));
    const ch = await good.dial(at, limits(), 5000);
    const server = await accepted();
    const got = frames(server, 1);
    await ch.send([Uint8Array.of(42)]);
    expect(Array.from((await got)[0]!)).toEqual([42]);
    const untrusting = track(new WsFrameTransport({ tls: {} }));
    const err = await untrusting.dial(at, limits(), 5000).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
  });
});
