import {
  type FrameAddress,
  type FrameChannel,
  type FrameChannelLimits,
  type FrameTransport,
  InboundBudget,
  isPsError,
  PsErrorCode,
} from '@ps/core';
import { runFrameTransportConformance, runMessageLayerSuite, selfSignedCertificate } from '@ps/core/testing';
import { firstValueFrom, lastValueFrom, take, timeout, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { BrowserWsFrameTransport } from './browser-ws-frame-transport.js';
import type { WebSocketConstructorLike } from './websocket-like.js';
import { WsFrameTransport } from './ws-frame-transport.js';

// Node 20 has no global WebSocket: run the browser medium on `ws`'s WHATWG-style client.
const WebSocket = NodeWebSocket as unknown as WebSocketConstructorLike;
const limits = (maxFrameBytes = 1 << 20): FrameChannelLimits => ({
  maxFrameBytes,
  budget: new InboundBudget(),
});

/**
 * A browser tab cannot listen: for the conformance suite, this medium listens with the Node
 * medium (what a tab dials in a real cluster) and dials with the browser one.
 */
function tabAndServer(): FrameTransport {
  const node = new WsFrameTransport();
  const tab = new BrowserWsFrameTransport({ WebSocket });
  return {
    kind: tab.kind,
    maxFrameBytes: tab.maxFrameBytes,
    listen: (at, l, accept) => node.listen(at, l, accept),
    dial: (at: FrameAddress, l, ms) => tab.dial(at, l, ms),
    close: async () => {
      await Promise.all([tab.close(), node.close()]);
    },
  };
}
runFrameTransportConformance(
  { describe, it, expect, afterEach },
  'ws-browser (dialing a ws listener)',
  tabAndServer,
);

// The message layer over it (a browser cannot stop reading a socket, so the slow-peer case is left out).
runMessageLayerSuite(
  { describe, it, expect, afterEach },
  'over ws-browser (dialing a ws listener)',
  tabAndServer,
);

const made: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((t) => t.close()));
});
function track<T extends { close(): Promise<void> }>(t: T): T {
  made.push(t);
  return t;
}

async function pair(serverOpts = {}, clientOpts = {}, serverMax = 1 << 20) {
  const server = track(new WsFrameTransport(serverOpts));
  const accepted: FrameChannel[] = [];
  let wake: (() => void) | undefined;
  const at = await server.listen(
    { host: '127.0.0.1', port: 0 },
    () => limits(serverMax),
    (ch) => {
      accepted.push(ch);
      wake?.();
    },
  );
  const tab = track(new BrowserWsFrameTransport({ WebSocket, ...clientOpts }));
  const client = await tab.dial(at, limits(), 5000);
  if (accepted.length === 0) await new Promise<void>((r) => (wake = r));
  return { server, tab, at, client, peer: accepted[0]! };
}

const frames = (ch: FrameChannel, n: number) =>
  firstValueFrom(ch.frames$.pipe(take(n), toArray(), timeout(10_000))) as Promise<unknown> as Promise<
    Uint8Array[]
  >;

describe('BrowserWsFrameTransport (on ws’s WHATWG client) against WsFrameTransport', () => {
  it('cannot listen: PS_ERR_CONFIG', async () => {
    const err = await new BrowserWsFrameTransport({ WebSocket }).listen().catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
  });

  it('says so when the runtime has no WebSocket', async () => {
    if ((globalThis as { WebSocket?: unknown }).WebSocket) return; // Node 22+: there is one
    const err = await new BrowserWsFrameTransport()
      .dial({ host: '127.0.0.1', port: 1 }, limits(), 100)
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
  });

  it('carries 2,000 frames in order both ways, and a multi-part frame joined into one message', async () => {
    const { client, peer } = await pair();
    expect(client.source).toBe('127.0.0.1');
    const atServer = frames(peer, 2001);
    for (let i = 0; i < 2000; i++) void client.send([Uint8Array.of(i & 255, i >> 8)]);
    await client.send([Uint8Array.of(1, 2), Uint8Array.of(3)]);
    const got = await atServer;
    expect(got.slice(0, 2000).map((b) => b[0]! + b[1]! * 256)).toEqual([...Array(2000).keys()]);
    expect(Array.from(got[2000]!)).toEqual([1, 2, 3]);
    const atTab = frames(client, 2000);
    for (let i = 0; i < 2000; i++) void peer.send([Uint8Array.of(i & 255, i >> 8)]);
    expect((await atTab).map((b) => b[0]! + b[1]! * 256)).toEqual([...Array(2000).keys()]);
  });

  it('delivers an 8 MiB frame unchanged with backpressure on bufferedAmount', async () => {
    const { client, peer } = await pair({}, { highWaterMarkBytes: 64 * 1024 }, 16 << 20);
    const big = new Uint8Array(8 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 255;
    const got = frames(peer, 3);
    await Promise.all([
      client.send([big]),
      client.send([big.subarray(0, 10), big.subarray(10)]),
      client.send([big]),
    ]);
    const f = await got;
    expect(f.map((x) => x.byteLength)).toEqual([8 << 20, 8 << 20, 8 << 20]);
    for (const x of f) expect(Buffer.compare(x, big)).toBe(0);
  });

  it('errors frames$ with PS_ERR_FRAME_TOO_LARGE when the server sends above the tab’s limit', async () => {
    const { client, peer } = await pair();
    client.setMaxFrameBytes(1000);
    const end = lastValueFrom(client.frames$).catch((e: unknown) => e);
    await peer.send([new Uint8Array(1001)]);
    expect(isPsError(await end, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    // The server sees the tab's close code 4009 (a browser may not send 1009) as a failure.
    const serverEnd = await lastValueFrom(peer.frames$).catch((e: unknown) => e);
    expect(isPsError(serverEnd, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    expect((serverEnd as Error).message).toMatch(/close code 1009/);
  });

  it('a clean close at either end completes frames$ at both', async () => {
    const { client, peer, tab, at } = await pair();
    const ends = [client, peer].map((c) => lastValueFrom(c.frames$, { defaultValue: 'done' }));
    client.close();
    expect(await Promise.all(ends)).toEqual(['done', 'done']);
    const second = await tab.dial(at, limits(), 5000);
    const end = lastValueFrom(second.frames$, { defaultValue: 'done' });
    await tab.close();
    expect(await end).toBe('done');
    const err = await second.send([Uint8Array.of(1)]).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CLOSED)).toBe(true);
  });

  it('rejects a dial to a closed port with PS_ERR_PEER_UNREACHABLE', async () => {
    const server = new WsFrameTransport();
    const at = await server.listen(
      { host: '127.0.0.1', port: 0 },
      () => limits(),
      () => undefined,
    );
    await server.close();
    const err = await track(new BrowserWsFrameTransport({ WebSocket }))
      .dial(at, limits(), 5000)
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
  });

  it('dials wss:// with secure: true', async () => {
    const { cert, key } = await selfSignedCertificate();
    // ws's client takes no CA from the constructor in its WHATWG form: trust the test CA for this socket.
    class TrustingWebSocket extends NodeWebSocket {
      constructor(url: string) {
        super(url, { ca: cert });
      }
    }
    const { client, peer } = await pair(
      { tls: { cert, key } },
      { secure: true, WebSocket: TrustingWebSocket as unknown as WebSocketConstructorLike },
    );
    const got = frames(peer, 1);
    await client.send([Uint8Array.of(7)]);
    expect(Array.from((await got)[0]!)).toEqual([7]);
  });
});
