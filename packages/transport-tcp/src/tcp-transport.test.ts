import net from 'node:net';
import { BusyPoll, encodeFrame, Handshake, isPsError, PsErrorCode } from '@ps/core';
import { runTransportConformance, selfSignedCertificate, TEST_SECRET } from '@ps/core/testing';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpTransport, tcp } from './tcp-transport.js';
import { testMessage as msg, tcpTransports } from './tcp-transports.test-util.js';

const api = { describe, it, expect, afterEach };
// The message layer's own guarantees (hello timeout, pending-handshake caps, the hello's frame
// limit, rate limit, reconnect, slow peers) run over TCP in tcp-frames.test.ts
// (runMessageLayerSuite); this file keeps the node-facing contract and what is TCP's own.
runTransportConformance(api, { name: 'tcp', create: () => tcp(), secure: (secret) => tcp({ secret }) });
runTransportConformance(api, { name: 'tcp with a secret', create: () => tcp({ secret: TEST_SECRET }) });
// A certificate made now for 127.0.0.1; each end trusts it as its own authority.
const pem = await selfSignedCertificate();
const tlsOptions = { cert: pem.cert, key: pem.key, ca: pem.cert };
runTransportConformance(api, {
  name: 'tcp over TLS with a secret',
  create: () => tcp({ secret: TEST_SECRET, tls: tlsOptions }),
  secure: (secret) => tcp({ secret, tls: tlsOptions }),
});

describe('TcpTransport specifics', () => {
  const make = tcpTransports();

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

  it('keeps the event loop polling between the frames of a dense exchange (busyPollUs), and never with busyPollUs: 0', async () => {
    const pingPong = async (busyPollUs: number) => {
      const a = make({ busyPollUs });
      const addr = await a.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
      const c = make({ busyPollUs });
      await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
      await c.connect(addr);
      const echo = a.frames$.subscribe(({ from, frame }) => void a.send(from, [frame as Uint8Array]));
      const before = { ...BusyPoll.shared.stats };
      for (let i = 0; i < 300; i++) {
        const back = firstValueFrom(c.frames$.pipe(take(1), timeout(5000)));
        await c.send('srv', encodeFrame(msg(i)));
        await back;
      }
      echo.unsubscribe();
      const after = BusyPoll.shared.stats;
      return { spins: after.spins - before.spins, caught: after.caught - before.caught };
    };
    const off = await pingPong(0);
    expect(off).toEqual({ spins: 0, caught: 0 });
    const on = await pingPong(100);
    expect(on.spins).toBeGreaterThan(0);
    expect(on.caught).toBeGreaterThan(0);
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
    // The medium's socket under the message layer's link to 'slow'.
    type Inside = { peers: { dialed: Map<string, { link: { channel: { socket: net.Socket } } }> } };
    const socket = (c as unknown as Inside).peers.dialed.get('slow')!.link.channel.socket;
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

describe('TcpTransport security', () => {
  const open: TcpTransport[] = [];
  const make = (o = {}) => {
    const t = new TcpTransport(o);
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
  const errorOf = (t: TcpTransport, code: string) =>
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

  it('refuses a plain client on a TLS port, logged, without stopping the TLS service', async () => {
    const s = make({ secret: TEST_SECRET, tls: tlsOptions });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const logged = errorOf(s, PsErrorCode.AUTH);
    // A TLS server closes on a plain hello without a word, which looks like a peer going away:
    // the dialer retries until connectTimeoutMs, then names the likely cause.
    const plain = make({ secret: TEST_SECRET, connectTimeoutMs: 1000 });
    await plain.bind({ id: 'plain', host: '127.0.0.1', port: 0 }, { listen: false });
    const err = await plain.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    expect((err as Error).message).toMatch(/TLS port/);
    const ev = await logged;
    expect(ev.type === 'error' && ev.error.message).toMatch(/TLS handshake .* failed/);
    const good = make({ secret: TEST_SECRET, tls: tlsOptions });
    await good.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await good.connect(addr);
    const got = firstValueFrom(s.frames$.pipe(take(1), timeout(5000)));
    await good.send('srv', encodeFrame(msg(1)));
    expect((await got).from).toBe('cli');
  });

  it('refuses a TLS client on a plain port at once, each side saying why', async () => {
    const s = make({ secret: TEST_SECRET });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const logged = errorOf(s, PsErrorCode.HANDSHAKE);
    const c = make({ secret: TEST_SECRET, tls: tlsOptions, connectTimeoutMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const t0 = Date.now();
    const err = await c.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
    expect((err as Error).message).toMatch(/without TLS/);
    const ev = await logged;
    expect(ev.type === 'error' && ev.error.message).toMatch(/speaks TLS/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('refuses a certificate the dialer does not trust with PS_ERR_AUTH, without retrying', async () => {
    const s = make({ tls: tlsOptions });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make({ tls: {}, connectTimeoutMs: 10_000 }); // the system's authorities only
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const t0 = Date.now();
    const err = await c.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
    expect((err as Error).message).toMatch(/self-signed|certificate/i);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('with requestCert, admits a dialer whose certificate verifies and refuses one without', async () => {
    const s = make({ tls: { ...tlsOptions, requestCert: true } });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const good = make({ tls: tlsOptions });
    await good.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await good.connect(addr)).toBe('srv');
    const refused = firstValueFrom(
      s.events$.pipe(
        filter((e) => e.type === 'error' && e.error.code === PsErrorCode.AUTH),
        timeout(10_000),
      ),
    );
    const bare = make({ tls: { ca: pem.cert }, connectTimeoutMs: 1000 });
    await bare.bind({ id: 'nocert', host: '127.0.0.1', port: 0 }, { listen: false });
    const err = await bare.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err)).toBe(true);
    expect(isPsError(err, PsErrorCode.AUTH) || isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    expect((await refused).type).toBe('error');
    // A certificate the listener does not trust (another self-signed one) is refused too.
    const other = await selfSignedCertificate();
    const stranger = make({
      tls: { cert: other.cert, key: other.key, ca: pem.cert },
      connectTimeoutMs: 1000,
    });
    await stranger.bind({ id: 'stranger', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(isPsError(await stranger.connect(addr).catch((e: unknown) => e))).toBe(true);
    const got = firstValueFrom(s.frames$.pipe(take(1), timeout(10_000)));
    await good.send('srv', encodeFrame(msg(3)));
    expect((await got).from).toBe('cli');
  });

  it('needs a certificate and key to listen with TLS (PS_ERR_CONFIG), and a long enough secret', async () => {
    const err = await make({ tls: { ca: pem.cert } })
      .bind({ id: 'srv', host: '127.0.0.1', port: 0 })
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
    expect(() => tcp({ secret: 'short' })).toThrow(/PS_ERR_CONFIG/);
    expect(() => tcp({ maxMessagesPerSecond: 0 })).toThrow(/PS_ERR_CONFIG/);
  });

  it('closes a connection that announces a frame larger than maxInboundBufferBytes (PS_ERR_INBOUND_BUDGET); smaller frames pass', async () => {
    const s = make({ maxInboundBufferBytes: 1024 * 1024 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const c = make({ reconnectWindowMs: 10_000 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    await c.connect(addr);
    const refused = errorOf(s, PsErrorCode.INBOUND_BUDGET);
    const lost = firstValueFrom(
      c.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(10_000),
      ),
    );
    await c.send('srv', [new Uint8Array(2 * 1024 * 1024)]).catch(() => undefined);
    const ev = await refused;
    expect(ev.type === 'error' ? ev.error.message : '').toMatch(
      /2097152 bytes, larger than .*maxInboundBufferBytes, 1048576/,
    );
    await lost;
    const got = firstValueFrom(s.frames$.pipe(take(1), timeout(10_000)));
    await c.send('srv', [new Uint8Array(1024 * 1024).fill(7)]); // after the reconnect
    const f = (await got).frame as Uint8Array;
    expect([f.byteLength, f[0], f[f.byteLength - 1]]).toEqual([1024 * 1024, 7, 7]);
  });

  it('to a dialed peer that stops reading, refuses the sends past maxQueuedBytes (PS_ERR_SLOW_PEER) and keeps the connection', async () => {
    // A listener that answers the hello, then reads nothing until told to.
    let accepted!: net.Socket;
    const listener = net.createServer((sock) => {
      accepted = sock;
      const hs = new Handshake({ side: 'accept', self: 'stuck' });
      sock.once('data', (d: Buffer) => {
        const step = hs.receive(new Uint8Array(d.subarray(4, 4 + d.readUInt32LE(0))));
        if (step instanceof Promise || !step.send) throw new Error('expected a plain hello');
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32LE(step.send.byteLength);
        sock.write(Buffer.concat([prefix, step.send]));
        sock.pause();
      });
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as net.AddressInfo).port;
    const c = make({ maxQueuedBytes: 8 * 1024 * 1024 });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await c.connect({ host: '127.0.0.1', port })).toBe('stuck');
    let disconnected = false;
    c.events$.subscribe((e) => {
      if (e.type === 'disconnected') disconnected = true;
    });
    const frame = [new Uint8Array(4 * 1024 * 1024)];
    const outcome: string[] = Array.from({ length: 40 }, () => 'waiting');
    const sends = outcome.map((_, i) =>
      c.send('stuck', frame).then(
        () => {
          outcome[i] = 'sent';
        },
        (e: unknown) => {
          outcome[i] = isPsError(e, PsErrorCode.SLOW_PEER) ? String(e) : `other: ${e}`;
        },
      ),
    );
    await new Promise((r) => setImmediate(r)); // refusals are immediate
    const slowAt = outcome.findIndex((o) => o.startsWith('PsError'));
    expect(slowAt).toBeGreaterThan(0);
    expect(slowAt).toBeLessThan(20);
    expect(outcome.slice(0, slowAt).every((o) => o === 'waiting' || o === 'sent')).toBe(true);
    expect(
      outcome
        .slice(slowAt)
        .every((o) => /PS_ERR_SLOW_PEER: .*this send is refused \(the connection stays\)/.test(o)),
    ).toBe(true);
    // The peer reads again: what was queued goes, and the connection still carries frames.
    let got = 0;
    accepted.on('data', (d: Buffer) => (got += d.byteLength));
    accepted.resume();
    await Promise.all(sends);
    expect(outcome.slice(0, slowAt).every((o) => o === 'sent')).toBe(true);
    await c.send('stuck', [new Uint8Array(10)]);
    expect(disconnected).toBe(false);
    expect(got).toBeGreaterThan(0);
    accepted.destroy();
    await new Promise((r) => listener.close(r));
  });

  it('closes a TLS connection that never starts its TLS handshake', async () => {
    const s = make({ tls: tlsOptions, helloTimeoutMs: 300 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const t0 = Date.now();
    const sock = raw(addr.port);
    await closed(sock);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('keeps a connection below 4 KiB frames until its proof is checked, whatever maxFrameBytes allows', async () => {
    const s = make({ secret: TEST_SECRET });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const logged = errorOf(s, PsErrorCode.FRAME_TOO_LARGE);
    const { Handshake, ClusterSecret } = await import('@ps/core');
    const hello = new Handshake({ side: 'dial', self: 'x', secret: new ClusterSecret(TEST_SECRET) }).start();
    const sock = raw(addr.port);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(hello.byteLength);
    sock.write(Buffer.concat([prefix, hello]));
    await new Promise((r) => setTimeout(r, 100)); // the server answered with its hello and proof
    sock.write(Buffer.from([0, 0, 0x10, 0])); // announces 1 MiB instead of a proof
    await logged;
    await closed(sock);
  });

  it('applies maxFrameBytes after the handshake, and disconnects a peer over maxMessagesPerSecond', async () => {
    const s = make({ secret: TEST_SECRET, maxFrameBytes: 1024, maxMessagesPerSecond: 100 });
    const addr = await s.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const big = make({ secret: TEST_SECRET, reconnectWindowMs: 500 });
    await big.bind({ id: 'big', host: '127.0.0.1', port: 0 }, { listen: false });
    await big.connect(addr);
    const tooLarge = errorOf(s, PsErrorCode.FRAME_TOO_LARGE);
    await big.send('srv', [new Uint8Array(4096)]).catch(() => undefined); // the server may close first
    await tooLarge;

    const fast = make({ secret: TEST_SECRET, reconnectWindowMs: 5_000 });
    await fast.bind({ id: 'fast', host: '127.0.0.1', port: 0 }, { listen: false });
    await fast.connect(addr);
    let received = 0;
    const sub = s.frames$.subscribe((f) => {
      if (f.from === 'fast') received++;
    });
    const limited = errorOf(s, PsErrorCode.RATE_LIMIT);
    const lost = firstValueFrom(
      fast.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(10_000),
      ),
    );
    const frame = encodeFrame(msg(1));
    await Promise.all(Array.from({ length: 1000 }, () => fast.send('srv', frame).catch(() => undefined)));
    const ev = await limited;
    expect(ev.type === 'error' && ev.peer).toBe('fast');
    await lost;
    sub.unsubscribe();
    expect(received).toBeGreaterThanOrEqual(100);
    expect(received).toBeLessThanOrEqual(150); // the burst, and what the rate refilled meanwhile
    // The node keeps serving: the peer reconnects (a fresh bucket) and is heard again.
    const again = firstValueFrom(
      s.frames$.pipe(
        filter((f) => f.from === 'fast'),
        take(1),
        timeout(10_000),
      ),
    );
    await fast.send('srv', frame);
    expect((await again).from).toBe('fast');
  });
});
