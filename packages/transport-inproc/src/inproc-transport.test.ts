import {
  encodeFrame,
  isPsError,
  type Message,
  PsErrorCode,
  type Transport,
  type TransportEvent,
} from '@ps/core';
import { runTransportConformance, TEST_SECRET } from '@ps/core/testing';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { InprocHub } from './inproc-hub.js';
import { InprocTransport, inproc } from './inproc-transport.js';

// One hub for the suite: the transports of a test must find each other, and this file's tests
// must not see transports of other files.
const suiteHub = new InprocHub();
runTransportConformance(
  { describe, it, expect, afterEach },
  {
    name: 'inproc',
    create: () => inproc({ hub: suiteHub }),
    secure: (secret) => inproc({ hub: suiteHub, secret }),
  },
);
runTransportConformance(
  { describe, it, expect, afterEach },
  { name: 'inproc with a secret', create: () => inproc({ hub: suiteHub, secret: TEST_SECRET }) },
);

function msg(ts: number): Message {
  return {
    meta: { sender: 'a', recipient: 'b', app: 0, ts, request: true, push: true, pull: false },
    data: [],
  };
}

describe('InprocTransport', () => {
  const made: Transport[] = [];
  const make = (opts: Parameters<typeof inproc>[0]) => {
    const t = inproc(opts);
    made.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.close()));
  });

  it('hands the receiver the very parts the sender passed (no copy)', async () => {
    const hub = new InprocHub();
    const a = make({ hub });
    const b = make({ hub });
    const addr = await a.bind({ id: 'a', host: 'h', port: 0 });
    await b.bind({ id: 'b', host: 'h', port: 0 }, { listen: false });
    await b.connect(addr);
    const parts = encodeFrame(msg(3));
    const got = firstValueFrom(a.frames$);
    await b.send('a', parts);
    const f = await got;
    expect(f.frame).toBe(parts);
    expect(f.from).toBe('b');
  });

  it('delivers asynchronously: nothing arrives before send returns', async () => {
    const hub = new InprocHub();
    const a = make({ hub });
    const b = make({ hub });
    const addr = await a.bind({ id: 'a', host: 'h', port: 0 });
    await b.bind({ id: 'b', host: 'h', port: 0 }, { listen: false });
    await b.connect(addr);
    let arrived = 0;
    a.frames$.subscribe(() => arrived++);
    const sent = b.send('a', encodeFrame(msg(1)));
    expect(arrived).toBe(0);
    await sent;
    expect(arrived).toBe(1);
  });

  it('gives port 0 fresh ports from 1 up and refuses an address in use with PS_ERR_BIND', async () => {
    const hub = new InprocHub();
    const p1 = (await make({ hub }).bind({ id: 'x', host: 'h', port: 0 })).port;
    const p2 = (await make({ hub }).bind({ id: 'y', host: 'h', port: 0 })).port;
    expect(p1).toBeGreaterThanOrEqual(1);
    expect(p2).not.toBe(p1);
    const err = await make({ hub })
      .bind({ id: 'z', host: 'h', port: p1 })
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.BIND)).toBe(true);
    expect(hub.addresses()).toEqual([`h:${p1}`, `h:${p2}`]);
  });

  it('keeps hubs apart and releases the address on close', async () => {
    const hubA = new InprocHub();
    const hubB = new InprocHub();
    const server = make({ hub: hubA });
    const addr = await server.bind({ id: 's', host: 'h', port: 7 });
    const stranger = make({ hub: hubB, connectTimeoutMs: 50 });
    await stranger.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    const err = await stranger.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    await server.close();
    expect(hubA.lookup('h', 7)).toBeUndefined();
    const again = make({ hub: hubA });
    expect((await again.bind({ id: 's2', host: 'h', port: 7 })).port).toBe(7);
  });

  it('rejects PS_ERR_PEER_UNREACHABLE after the connect window when nobody listens', async () => {
    const t = make({ hub: new InprocHub(), connectTimeoutMs: 100 });
    await t.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    const started = Date.now();
    const err = await t.connect({ host: 'h', port: 4242 }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    // The layer retries with backoff (20 ms, 40 ms, ...) and gives up when the next pause would
    // pass the window.
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('waits within the connect window for a listener that binds later', async () => {
    const hub = new InprocHub();
    const client = make({ hub });
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    const connecting = client.connect({ host: 'h', port: 99 });
    await new Promise((r) => setTimeout(r, 30));
    await make({ hub }).bind({ id: 'late', host: 'h', port: 99 });
    expect(await connecting).toBe('late');
  });

  it('rejects frames over maxFrameBytes with PS_ERR_FRAME_TOO_LARGE, at the sender and at the receiver', async () => {
    const hub = new InprocHub();
    const server = make({ hub, maxFrameBytes: 64 });
    const client = make({ hub, maxFrameBytes: 1024 });
    const addr = await server.bind({ id: 's', host: 'h', port: 0 });
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    await client.connect(addr);
    const big = [new Uint8Array(2048)];
    const atSender = await client.send('s', big).catch((e: unknown) => e);
    expect(isPsError(atSender, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    const errors = firstValueFrom(server.events$.pipe(filter((e) => e.type === 'error')));
    const atReceiver = await client.send('s', [new Uint8Array(512)]).catch((e: unknown) => e);
    expect(isPsError(atReceiver, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    const ev = (await errors) as Extract<TransportEvent, { type: 'error' }>;
    expect(ev.error.code).toBe(PsErrorCode.FRAME_TOO_LARGE);
    expect(ev.peer).toBe('c');
  });

  it('delivers frames sent before close, then reports disconnected', async () => {
    const hub = new InprocHub();
    const server = make({ hub });
    const client = make({ hub });
    const addr = await server.bind({ id: 's', host: 'h', port: 0 });
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    await client.connect(addr);
    const seen: string[] = [];
    server.frames$.subscribe(() => seen.push('frame'));
    const lost = firstValueFrom(server.events$.pipe(filter((e) => e.type === 'disconnected')));
    void client.send('s', encodeFrame(msg(1)));
    void client.send('s', encodeFrame(msg(2)));
    await client.close();
    await lost;
    seen.push('disconnected');
    expect(seen).toEqual(['frame', 'frame', 'disconnected']);
  });

  it('re-links an outgoing link when the listener comes back at its address with the same id', async () => {
    const hub = new InprocHub();
    const first = make({ hub });
    const client = make({ hub, reconnectWindowMs: 2_000 });
    await first.bind({ id: 's', host: 'h', port: 5 });
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    await client.connect({ host: 'h', port: 5 });
    const events = firstValueFrom(client.events$.pipe(take(2), toArray(), timeout(5_000)));
    await first.close();
    const second = make({ hub });
    await second.bind({ id: 's', host: 'h', port: 5 });
    const got = firstValueFrom(second.frames$);
    await client.send('s', encodeFrame(msg(8)));
    expect((await got).from).toBe('c');
    expect((await events).map((e) => e.type)).toEqual(['disconnected', 'connected']);
  });

  it('fails sends with PS_ERR_PEER_UNREACHABLE when the listener does not come back in the window', async () => {
    const hub = new InprocHub();
    const server = make({ hub });
    const client = make({ hub, reconnectWindowMs: 50 });
    const addr = await server.bind({ id: 's', host: 'h', port: 0 });
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    await client.connect(addr);
    const lost = firstValueFrom(client.events$.pipe(filter((e) => e.type === 'disconnected')));
    await server.close();
    await lost;
    const err = await client.send('s', encodeFrame(msg(1))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    const after = await client.send('s', encodeFrame(msg(2))).catch((e: unknown) => e);
    expect(isPsError(after, PsErrorCode.UNKNOWN_PEER)).toBe(true);
  });

  it('refuses an invalid node id with PS_ERR_HANDSHAKE, and connect before bind with PS_ERR_CONFIG', async () => {
    const hub = new InprocHub();
    const server = make({ hub });
    const addr = await server.bind({ id: 's', host: 'h', port: 0 });
    const unbound = make({ hub });
    expect(isPsError(await unbound.connect(addr).catch((e: unknown) => e), PsErrorCode.CONFIG)).toBe(true);
    const bad = make({ hub });
    await bad.bind({ id: 'x'.repeat(500), host: 'h', port: 0 }, { listen: false });
    expect(isPsError(await bad.connect(addr).catch((e: unknown) => e), PsErrorCode.HANDSHAKE)).toBe(true);
  });

  it('rejects a connect still waiting when the transport closes, with PS_ERR_CLOSED', async () => {
    const t = make({ hub: new InprocHub(), connectTimeoutMs: 10_000 });
    await t.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    const pending = t.connect({ host: 'h', port: 1234 }).catch((e: unknown) => e);
    await t.close();
    expect(isPsError(await pending, PsErrorCode.CLOSED)).toBe(true);
  });

  it('uses the default hub when given none', async () => {
    const server = new InprocTransport();
    const client = new InprocTransport();
    made.push(server, client);
    const addr = await server.bind({ id: 'dflt-s', host: 'inproc-default-test', port: 0 });
    await client.bind({ id: 'dflt-c', host: 'inproc-default-test', port: 0 }, { listen: false });
    expect(await client.connect(addr)).toBe('dflt-s');
    expect(server.kind).toBe('inproc');
  });
});
