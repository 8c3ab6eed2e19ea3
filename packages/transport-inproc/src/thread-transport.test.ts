import { encodeFrame, isPsError, type Message, PsErrorCode, type TransportEvent } from '@ps/core';
import { runTransportConformance, TEST_SECRET } from '@ps/core/testing';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ThreadHub } from './thread-hub.js';
import { type ThreadTransport, type ThreadTransportOptions, threads } from './thread-transport.js';

// Both ends live in this thread for the conformance run, each with its own port to one hub.
const suiteHub = new ThreadHub();
afterAll(() => suiteHub.close());
runTransportConformance(
  { describe, it, expect, afterEach },
  {
    name: 'threads',
    create: () => threads({ port: suiteHub.connectPort() }),
    secure: (secret) => threads({ port: suiteHub.connectPort(), secret }),
  },
);
runTransportConformance(
  { describe, it, expect, afterEach },
  {
    name: 'threads with a secret',
    create: () => threads({ port: suiteHub.connectPort(), secret: TEST_SECRET }),
  },
);

function msg(ts: number): Message {
  return {
    meta: { sender: 'a', recipient: 'b', app: 0, ts, request: true, push: true, pull: false },
    data: [],
  };
}

describe('ThreadTransport (ends in one thread)', () => {
  const made: ThreadTransport[] = [];
  const hubs: ThreadHub[] = [];
  const newHub = () => {
    const h = new ThreadHub();
    hubs.push(h);
    return h;
  };
  const make = (hub: ThreadHub, opts: Omit<ThreadTransportOptions, 'port'> = {}) => {
    const t = threads({ port: hub.connectPort(), ...opts });
    made.push(t);
    return t;
  };
  const pair = async (
    opts: {
      server?: Omit<ThreadTransportOptions, 'port'>;
      client?: Omit<ThreadTransportOptions, 'port'>;
    } = {},
  ) => {
    const hub = newHub();
    const server = make(hub, opts.server);
    const client = make(hub, opts.client);
    const addr = await server.bind({ id: 's', host: 'h', port: 0 });
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    await client.connect(addr);
    return { hub, server, client, addr };
  };
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.close()));
    for (const h of hubs.splice(0)) h.close();
  });

  it('copies the parts into one fresh, 8-aligned buffer', async () => {
    const { server, client } = await pair();
    const parts = encodeFrame({ ...msg(1), data: [new Float64Array([1.5, 2.5, 3.5])] });
    const got = firstValueFrom(server.frames$);
    await client.send('s', parts);
    const { frame } = await got;
    expect(frame).toBeInstanceOf(Uint8Array);
    const f = frame as Uint8Array;
    expect(f.byteOffset).toBe(0);
    expect(f.byteLength).toBe(f.buffer.byteLength);
    expect(f.buffer).not.toBe(parts[0]!.buffer);
    expect(Buffer.compare(Buffer.from(f), Buffer.concat(parts))).toBe(0);
    // The sender's buffers stay usable (they were copied, not transferred).
    expect(parts[0]!.byteLength).toBeGreaterThan(0);
  });

  it('gives port 0 fresh ports and refuses an address in use with PS_ERR_BIND', async () => {
    const hub = newHub();
    const p1 = (await make(hub).bind({ id: 'x', host: 'h', port: 0 })).port;
    const p2 = (await make(hub).bind({ id: 'y', host: 'h', port: 0 })).port;
    expect(p1).toBeGreaterThanOrEqual(1);
    expect(p2).not.toBe(p1);
    const err = await make(hub)
      .bind({ id: 'z', host: 'h', port: p1 })
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.BIND)).toBe(true);
    expect(hub.addresses().sort()).toEqual([`h:${p1}`, `h:${p2}`].sort());
  });

  it('releases the address when the transport closes', async () => {
    const hub = newHub();
    const t = make(hub);
    await t.bind({ id: 's', host: 'h', port: 77 });
    await t.close();
    const again = make(hub);
    expect((await again.bind({ id: 's2', host: 'h', port: 77 })).port).toBe(77);
  });

  it('rejects PS_ERR_PEER_UNREACHABLE after the connect window when nobody listens', async () => {
    const t = make(newHub(), { connectTimeoutMs: 100 });
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
    const hub = newHub();
    const client = make(hub);
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    const connecting = client.connect({ host: 'h', port: 99 });
    await new Promise((r) => setTimeout(r, 30));
    await make(hub).bind({ id: 'late', host: 'h', port: 99 });
    expect(await connecting).toBe('late');
  });

  it('rejects frames over maxFrameBytes: at the sender with PS_ERR_FRAME_TOO_LARGE, at the receiver as an error event', async () => {
    const { server, client } = await pair({ server: { maxFrameBytes: 64 }, client: { maxFrameBytes: 1024 } });
    const atSender = await client.send('s', [new Uint8Array(2048)]).catch((e: unknown) => e);
    expect(isPsError(atSender, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    const errors = firstValueFrom(server.events$.pipe(filter((e) => e.type === 'error')));
    await client.send('s', [new Uint8Array(512)]);
    const ev = (await errors) as Extract<TransportEvent, { type: 'error' }>;
    expect(ev.error.code).toBe(PsErrorCode.FRAME_TOO_LARGE);
    expect(ev.peer).toBe('c');
  });

  it('holds sends past maxBytesInFlight until the receiver takes the frames, keeping their order', async () => {
    const { server, client } = await pair({ client: { maxBytesInFlight: 1000 } });
    const got = firstValueFrom(server.frames$.pipe(take(20), toArray(), timeout(10_000)));
    const settled: number[] = [];
    const sends = Array.from({ length: 20 }, (_, i) => {
      const frame = new Uint8Array(400);
      frame[0] = i;
      return client.send('s', [frame]).then(() => settled.push(i));
    });
    // Two frames fit the window; the third waits for the receiver's acknowledgement.
    await new Promise((r) => setImmediate(r));
    expect(settled.length).toBeLessThan(20);
    await Promise.all(sends);
    const frames = await got;
    expect(frames.map((f) => (f.frame as Uint8Array)[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(settled).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('delivers frames posted before close, then reports disconnected', async () => {
    const { server, client } = await pair();
    const seen: string[] = [];
    server.frames$.subscribe(() => seen.push('frame'));
    const lost = firstValueFrom(
      server.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(5_000),
      ),
    );
    await client.send('s', encodeFrame(msg(1)));
    await client.send('s', encodeFrame(msg(2)));
    await client.close();
    await lost;
    seen.push('disconnected');
    expect(seen).toEqual(['frame', 'frame', 'disconnected']);
  });

  it('re-links an outgoing link when the listener comes back at its address with the same id', async () => {
    const hub = newHub();
    const first = make(hub);
    const client = make(hub);
    await first.bind({ id: 's', host: 'h', port: 5 });
    await client.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    await client.connect({ host: 'h', port: 5 });
    const events = firstValueFrom(client.events$.pipe(take(2), toArray(), timeout(5_000)));
    const lost = firstValueFrom(client.events$.pipe(filter((e) => e.type === 'disconnected')));
    await first.close();
    await lost;
    const second = make(hub);
    await second.bind({ id: 's', host: 'h', port: 5 });
    const got = firstValueFrom(second.frames$);
    await client.send('s', encodeFrame(msg(8)));
    expect((await got).from).toBe('c');
    expect((await events).map((e) => e.type)).toEqual(['disconnected', 'connected']);
  });

  it('fails sends with PS_ERR_PEER_UNREACHABLE when the listener does not come back in the window', async () => {
    const { server, client } = await pair({ client: { reconnectWindowMs: 50 } });
    const lost = firstValueFrom(
      client.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(5_000),
      ),
    );
    await server.close();
    await lost;
    const err = await client.send('s', encodeFrame(msg(1))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    const after = await client.send('s', encodeFrame(msg(2))).catch((e: unknown) => e);
    expect(isPsError(after, PsErrorCode.UNKNOWN_PEER)).toBe(true);
  });

  it('refuses an invalid node id with PS_ERR_HANDSHAKE, and connect before bind with PS_ERR_CONFIG', async () => {
    const hub = newHub();
    const server = make(hub);
    const addr = await server.bind({ id: 's', host: 'h', port: 0 });
    const unbound = make(hub);
    expect(isPsError(await unbound.connect(addr).catch((e: unknown) => e), PsErrorCode.CONFIG)).toBe(true);
    const bad = make(hub);
    await bad.bind({ id: 'x'.repeat(500), host: 'h', port: 0 }, { listen: false });
    const refused = firstValueFrom(
      server.events$.pipe(
        filter((e) => e.type === 'error'),
        timeout(5_000),
      ),
    );
    expect(isPsError(await bad.connect(addr).catch((e: unknown) => e), PsErrorCode.HANDSHAKE)).toBe(true);
    expect(((await refused) as Extract<TransportEvent, { type: 'error' }>).error.code).toBe(
      PsErrorCode.HANDSHAKE,
    );
  });

  it('after the hub closes: links made keep working, new binds fail with PS_ERR_BIND', async () => {
    const { hub, server, client } = await pair();
    hub.close();
    await new Promise((r) => setTimeout(r, 20));
    const got = firstValueFrom(server.frames$);
    await client.send('s', encodeFrame(msg(6)));
    expect((await got).from).toBe('c');
    const err = await server.bind({ id: 's', host: 'h', port: 0 }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.BIND)).toBe(true);
    expect(() => hub.connectPort()).toThrow(/PS_ERR_CLOSED/);
  });

  it('rejects a connect still waiting when the transport closes, with PS_ERR_CLOSED', async () => {
    const t = make(newHub(), { connectTimeoutMs: 10_000 });
    await t.bind({ id: 'c', host: 'h', port: 0 }, { listen: false });
    const pending = t.connect({ host: 'h', port: 1234 }).catch((e: unknown) => e);
    await t.close();
    expect(isPsError(await pending, PsErrorCode.CLOSED)).toBe(true);
  });
});
