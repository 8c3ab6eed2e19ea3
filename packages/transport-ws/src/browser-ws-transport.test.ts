import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { decodeFrame, encodeFrame, isPsError, type Message, PsErrorCode, type Transport } from '@ps/core';
import { selfSignedCertificate, TEST_SECRET } from '@ps/core/testing';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { BrowserWsTransport, type WebSocketConstructorLike, wsBrowser } from './browser-ws-transport.js';
import { ws } from './ws-transport.js';

// Node 20 has no global WebSocket: run the browser transport on `ws`'s WHATWG-style client.
const WebSocket = NodeWebSocket as unknown as WebSocketConstructorLike;

function message(i: number, floats = 4): Message {
  const keys = new BigUint64Array(floats);
  const vals = new Float32Array(floats);
  for (let k = 0; k < floats; k++) {
    keys[k] = BigInt(k * 7 + 1);
    vals[k] = i + k / 8;
  }
  return {
    meta: { sender: 'a', recipient: 'b', app: 0, ts: i, request: true, push: true, pull: false },
    data: [keys, vals],
  };
}

describe('BrowserWsTransport (on ws’s client) against the Node ws() server', () => {
  const made: Transport[] = [];
  const track = <T extends Transport>(t: T) => {
    made.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.close()));
  });
  const pair = async (opts = {}) => {
    const server = track(ws());
    const client = track(wsBrowser({ WebSocket, ...opts }));
    const addr = await server.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    await client.bind({ id: 'tab', host: '127.0.0.1', port: 0 }, { listen: false });
    const peer = await client.connect({ host: addr.host, port: addr.port });
    return { server, client, addr, peer };
  };
  const next = (tr: Transport, n = 1) => firstValueFrom(tr.frames$.pipe(take(n), toArray(), timeout(10_000)));

  it('refuses to listen with PS_ERR_CONFIG', async () => {
    const t = track(wsBrowser({ WebSocket }));
    const err = await t.bind({ id: 'tab', host: '127.0.0.1', port: 0 }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
    expect(await t.bind({ id: 'tab', host: '127.0.0.1', port: 0 }, { listen: false })).toEqual({
      id: 'tab',
      host: '127.0.0.1',
      port: 0,
    });
  });

  it('says so when the runtime has no WebSocket', async () => {
    if ((globalThis as { WebSocket?: unknown }).WebSocket) return; // Node 22+: there is one
    const t = track(new BrowserWsTransport({ connectTimeoutMs: 100 }));
    await t.bind({ id: 'tab', host: '127.0.0.1', port: 0 }, { listen: false });
    const err = await t.connect({ host: '127.0.0.1', port: 1 }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
  });

  it('connects and resolves the server id', async () => {
    const { peer, client } = await pair();
    expect(peer).toBe('srv');
    expect(client.kind).toBe('ws-browser');
  });

  it('carries frames both ways, attributed to the sender', async () => {
    const { server, client } = await pair();
    const atServer = next(server);
    await client.send('srv', encodeFrame(message(1)));
    const [f] = await atServer;
    expect(f!.from).toBe('tab');
    expect(decodeFrame(f!.frame).meta.ts).toBe(1);
    const atClient = next(client);
    await server.send('tab', encodeFrame(message(2)));
    const [g] = await atClient;
    expect(g!.from).toBe('srv');
    expect(g!.frame).toBeInstanceOf(Uint8Array);
    expect(Array.from(decodeFrame(g!.frame).data[1] as Float32Array)).toEqual(
      Array.from(message(2).data[1] as Float32Array),
    );
  });

  it('delivers 2,000 frames in order, both ways', async () => {
    const { server, client } = await pair();
    const up = next(server, 2000);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => client.send('srv', encodeFrame(message(i, 1)))));
    expect((await up).map((f) => decodeFrame(f.frame).meta.ts)).toEqual(
      Array.from({ length: 2000 }, (_, i) => i),
    );
    const down = next(client, 2000);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => server.send('tab', encodeFrame(message(i, 1)))));
    expect((await down).map((f) => decodeFrame(f.frame).meta.ts)).toEqual(
      Array.from({ length: 2000 }, (_, i) => i),
    );
  });

  it('delivers an 8 MiB multi-part frame unchanged, with backpressure', async () => {
    const { server, client } = await pair({ highWaterMarkBytes: 64 * 1024 });
    const big = message(7, 700_000);
    const got = next(server, 3);
    await Promise.all([0, 1, 2].map(() => client.send('srv', encodeFrame(big))));
    const frames = await got;
    for (const f of frames) {
      const back = decodeFrame(f.frame);
      expect((back.data[0] as BigUint64Array).length).toBe(700_000);
      expect((back.data[1] as Float32Array)[699_999]).toBe((big.data[1] as Float32Array)[699_999]);
    }
  });

  it('rejects a send to an unknown peer with PS_ERR_UNKNOWN_PEER and an oversized one with PS_ERR_FRAME_TOO_LARGE', async () => {
    const { client } = await pair({ maxFrameBytes: 1024 });
    const err = await client.send('nobody', encodeFrame(message(1))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.UNKNOWN_PEER)).toBe(true);
    const big = await client.send('srv', [new Uint8Array(2048)]).catch((e: unknown) => e);
    expect(isPsError(big, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
  });

  it('closes the connection when the server sends more than maxFrameBytes, then reconnects', async () => {
    const { server, client } = await pair({ maxFrameBytes: 1024 });
    const errors = firstValueFrom(client.events$.pipe(filter((e) => e.type === 'error')));
    const again = firstValueFrom(
      server.events$.pipe(
        filter((e) => e.type === 'connected' && e.peer === 'tab'),
        timeout(10_000),
      ),
    );
    await server.send('tab', [new Uint8Array(4096)]);
    const ev = await errors;
    expect(ev.type === 'error' ? ev.error.code : undefined).toBe(PsErrorCode.FRAME_TOO_LARGE);
    await again;
    const got = next(server);
    await client.send('srv', encodeFrame(message(3)));
    expect((await got)[0]!.from).toBe('tab');
  });

  it('reports the server closing as disconnected and the browser closing at the server', async () => {
    const { server, client } = await pair({ reconnectWindowMs: 200 });
    const lost = firstValueFrom(
      server.events$.pipe(
        filter((e) => e.type === 'disconnected' && e.peer === 'tab'),
        timeout(10_000),
      ),
    );
    let completed = false;
    client.frames$.subscribe({ complete: () => (completed = true) });
    await client.close();
    await client.close();
    expect((await lost).type).toBe('disconnected');
    expect(completed).toBe(true);
    const err = await client.send('srv', encodeFrame(message(1))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CLOSED)).toBe(true);
  });

  it('reconnects after the server restarts on the same port; a send made meanwhile arrives', async () => {
    const { server, client, addr } = await pair({ reconnectWindowMs: 10_000 });
    const lost = firstValueFrom(
      client.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(5000),
      ),
    );
    await server.close();
    await lost;
    const pending = client.send('srv', encodeFrame(message(5)));
    const again = track(ws());
    await again.bind({ id: 'srv', host: '127.0.0.1', port: addr.port });
    const got = next(again);
    await pending;
    expect((await got)[0]!.from).toBe('tab');
  });
});

describe('BrowserWsTransport security', () => {
  const made: Transport[] = [];
  const track = <T extends Transport>(t: T) => {
    made.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.close()));
  });

  it('authenticates with the cluster secret on WebCrypto; another secret is refused with PS_ERR_AUTH', async () => {
    const server = track(ws({ secret: TEST_SECRET }));
    const addr = await server.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    const tab = track(wsBrowser({ WebSocket, secret: TEST_SECRET }));
    await tab.bind({ id: 'tab', host: 'browser', port: 0 }, { listen: false });
    expect(await tab.connect(addr)).toBe('srv');
    const got = firstValueFrom(server.frames$.pipe(take(1), timeout(5000)));
    await tab.send('srv', encodeFrame(message(1)));
    expect((await got).from).toBe('tab');

    const refused = firstValueFrom(
      server.events$.pipe(
        filter((e) => e.type === 'error' && e.error.code === PsErrorCode.AUTH),
        timeout(5000),
      ),
    );
    const wrong = track(wsBrowser({ WebSocket, secret: 'a wrong secret, long enough too' }));
    await wrong.bind({ id: 'tab2', host: 'browser', port: 0 }, { listen: false });
    const err = await wrong.connect(addr).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
    await refused;
    const none = track(wsBrowser({ WebSocket }));
    await none.bind({ id: 'tab3', host: 'browser', port: 0 }, { listen: false });
    expect(isPsError(await none.connect(addr).catch((e: unknown) => e), PsErrorCode.AUTH)).toBe(true);
  });

  it('dials wss:// with secure: true', async () => {
    const pem = await selfSignedCertificate();
    const server = track(ws({ secret: TEST_SECRET, tls: { cert: pem.cert, key: pem.key } }));
    const addr = await server.bind({ id: 'srv', host: '127.0.0.1', port: 0 });
    // A browser trusts its own authorities; here `ws`'s client is told to trust the test certificate.
    const Trusting = class extends NodeWebSocket {
      constructor(url: string) {
        super(url, { ca: pem.cert });
      }
    } as unknown as WebSocketConstructorLike;
    const tab = track(wsBrowser({ WebSocket: Trusting, secret: TEST_SECRET, secure: true }));
    await tab.bind({ id: 'tab', host: 'browser', port: 0 }, { listen: false });
    expect(await tab.connect(addr)).toBe('srv');
    const got = firstValueFrom(server.frames$.pipe(take(1), timeout(5000)));
    await tab.send('srv', encodeFrame(message(2)));
    expect((await got).from).toBe('tab');
  });

  it('the browser build imports nothing from Node, down to @ps/core (npm test builds first)', () => {
    const node = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const seen = new Set<string>();
    const visit = (url: URL) => {
      if (seen.has(url.href)) return;
      seen.add(url.href);
      const code = readFileSync(url, 'utf8');
      for (const [, spec] of code.matchAll(/(?:from|import)\s*["']([^"']+)["']/g)) {
        expect(node.has(spec!), `${url.pathname} imports ${spec}`).toBe(false);
        if (spec!.startsWith('.')) visit(new URL(spec!, url));
        else if (spec === '@ps/core') visit(new URL('../../core/dist/index.js', import.meta.url));
      }
    };
    visit(new URL('../dist/browser.js', import.meta.url));
    expect([...seen].some((f) => f.includes('/core/dist/'))).toBe(true);
  });
});
