/**
 * Test helpers: the transport conformance suite and a reordering transport wrapper. Import from
 * `@ps/core/testing` in tests only.
 */
import { filter, firstValueFrom, map, mergeMap, type Observable, take, timeout, timer, toArray } from 'rxjs';
import { isPsError, PsErrorCode } from './errors.js';
import { seededRandom } from './internal/seeded-random.js';
import type { BindOptions, InboundFrame, PeerAddress, Transport, TransportEvent } from './net/transport.js';
import type { TestApi } from './testing/test-api.js';
import { decodeFrame, encodeFrame } from './wire/frame-codec.js';
import { type Message, type NodeAddress, type NodeId, SCHEDULER_ID } from './wire/message.js';

export {
  type FrameConformanceOptions,
  runFrameTransportConformance,
} from './testing/frame-transport-conformance.js';
export { type MessageLayerSuiteOptions, runMessageLayerSuite } from './testing/message-layer-suite.js';
export type { TestApi } from './testing/test-api.js';

/** What the suite needs to know about a transport. */
export interface ConformanceOptions {
  /** Name shown in the test titles. */
  name: string;
  /** Makes a fresh, unbound transport. Every transport made is closed after each test. */
  create: () => Transport;
  /** Host to bind (default `127.0.0.1`). */
  host?: string;
  /**
   * Makes a fresh, unbound transport with the given cluster secret (`undefined`: none). When
   * given, the suite also checks authentication: the same secret connects; another secret, or
   * a secret on one side only, is refused with `PS_ERR_AUTH` on both sides, and the listener
   * keeps serving.
   */
  secure?: (secret: string | undefined) => Transport;
}

/** A secret for tests (never use a published secret for a real cluster). */
export const TEST_SECRET = 'a test secret of thirty-two bytes';

/**
 * A self-signed certificate and its private key (PEM, P-256) for TLS tests, made now by the
 * `openssl` command, valid for a day for the given hosts (IP addresses or DNS names). Nothing
 * is left on disk. Node-only, for tests.
 * @throws Error when the `openssl` command is missing or fails.
 */
export async function selfSignedCertificate(
  hosts: readonly string[] = ['127.0.0.1', 'localhost'],
): Promise<{ cert: string; key: string }> {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'ps-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=ps-test',
        '-addext',
        `subjectAltName=${san}`,
      ],
      { stdio: 'pipe' },
    );
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } catch (err) {
    throw new Error(
      `selfSignedCertificate needs the openssl command (apt-get install openssl): ${(err as Error).message}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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

/**
 * The transport conformance suite (DESIGN.md, "Transports"): the same scenarios against every
 * transport: bind resolves a real port; a handshake names both ends; frames go both ways over
 * one connection, in order, unchanged, attributed to the right sender; large multi-part frames
 * arrive whole; unknown peers and closed transports reject with `PsError`s; a closed peer is
 * reported as disconnected.
 */
export function runTransportConformance(t: TestApi, opts: ConformanceOptions): void {
  const host = opts.host ?? '127.0.0.1';
  const made: Transport[] = [];
  const make = () => {
    const tr = opts.create();
    made.push(tr);
    return tr;
  };
  const pair = async () => {
    const server = make();
    const client = make();
    const addr = await server.bind({ id: 'srv', host, port: 0 });
    await client.bind({ id: 'cli', host, port: 0 }, { listen: false });
    const peer = await client.connect({ host: addr.host, port: addr.port });
    return { server, client, addr, peer };
  };
  const next = (tr: Transport, n = 1) => firstValueFrom(tr.frames$.pipe(take(n), toArray(), timeout(10_000)));

  t.describe(`transport conformance: ${opts.name}`, () => {
    t.afterEach(async () => {
      await Promise.all(made.splice(0).map((tr) => tr.close()));
    });

    t.it('bind resolves a real port and connect resolves the peer id', async () => {
      const { addr, peer } = await pair();
      t.expect(addr.port).toBeGreaterThan(0);
      t.expect(addr.id).toBe('srv');
      t.expect(peer).toBe('srv');
    });

    t.it('carries frames both ways over one connection, attributed to the sender', async () => {
      const { server, client } = await pair();
      const atServer = next(server);
      await client.send('srv', encodeFrame(message(1)));
      const [fromClient] = (await atServer) as InboundFrame[];
      t.expect(fromClient!.from).toBe('cli');
      t.expect(decodeFrame(fromClient!.frame).meta.ts).toBe(1);
      const atClient = next(client);
      await server.send('cli', encodeFrame(message(2)));
      const [fromServer] = (await atClient) as InboundFrame[];
      t.expect(fromServer!.from).toBe('srv');
      const back = decodeFrame(fromServer!.frame);
      t.expect(back.meta.ts).toBe(2);
      t.expect(Array.from(back.data[1] as Float32Array)).toEqual(
        Array.from(message(2).data[1] as Float32Array),
      );
    });

    t.it('delivers 2,000 frames in order', async () => {
      const { server, client } = await pair();
      const got = next(server, 2000);
      await Promise.all(
        Array.from({ length: 2000 }, (_, i) => client.send('srv', encodeFrame(message(i, 1)))),
      );
      const frames = (await got) as InboundFrame[];
      t.expect(frames.map((f) => decodeFrame(f.frame).meta.ts)).toEqual(
        Array.from({ length: 2000 }, (_, i) => i),
      );
    });

    t.it('delivers an 8 MiB multi-part frame unchanged', async () => {
      const { server, client } = await pair();
      const big = message(7, 700_000);
      const got = next(server);
      await client.send('srv', encodeFrame(big));
      const [f] = (await got) as InboundFrame[];
      const back = decodeFrame(f!.frame);
      t.expect((back.data[0] as BigUint64Array).length).toBe(700_000);
      t.expect(
        Buffer.compare(
          Buffer.from(
            (back.data[1] as Float32Array).buffer,
            (back.data[1] as Float32Array).byteOffset,
            2_800_000,
          ),
          Buffer.from((big.data[1] as Float32Array).buffer),
        ),
      ).toBe(0);
      t.expect((back.data[0] as BigUint64Array)[699_999]).toBe((big.data[0] as BigUint64Array)[699_999]);
    });

    t.it('attributes frames from two clients to each', async () => {
      const { server, addr } = await pair();
      const other = make();
      await other.bind({ id: 'cli2', host, port: 0 }, { listen: false });
      await other.connect({ host: addr.host, port: addr.port });
      const got = next(server, 1);
      await other.send('srv', encodeFrame(message(9)));
      const [f] = (await got) as InboundFrame[];
      t.expect(f!.from).toBe('cli2');
      const reply = next(other, 1);
      await server.send('cli2', encodeFrame(message(10)));
      t.expect(decodeFrame(((await reply) as InboundFrame[])[0]!.frame).meta.ts).toBe(10);
    });

    t.it('rejects a send to an unknown peer with PS_ERR_UNKNOWN_PEER', async () => {
      const { client } = await pair();
      const err = await client.send('nobody', encodeFrame(message(1))).catch((e: unknown) => e);
      t.expect(isPsError(err, PsErrorCode.UNKNOWN_PEER)).toBe(true);
    });

    t.it('reports a peer that closes as disconnected', async () => {
      const { server, client } = await pair();
      const lost = firstValueFrom(
        server.events$.pipe(
          filter((e) => e.type === 'disconnected' && e.peer === 'cli'),
          timeout(10_000),
        ),
      );
      await client.close();
      t.expect((await lost).type).toBe('disconnected');
    });

    t.it('refuses a peer that claims the listener’s own id with PS_ERR_HANDSHAKE', async () => {
      const { addr } = await pair();
      const twin = make();
      await twin.bind({ id: 'srv', host, port: 0 }, { listen: false });
      const err = await twin.connect({ host: addr.host, port: addr.port }).catch((e: unknown) => e);
      t.expect(isPsError(err, PsErrorCode.HANDSHAKE)).toBe(true);
    });

    t.it(
      "refuses an inbound peer claiming the scheduler's id once the node dialed the scheduler (PS_ERR_AUTH)",
      async () => {
        const a = make();
        const b = make();
        const aAddr = await a.bind({ id: 'a', host, port: 0 });
        const bAddr = await b.bind({ id: SCHEDULER_ID, host, port: 0 });
        // An impostor that connected as the scheduler before 'a' dialed the real one is dropped at
        // the dial.
        const early = make();
        await early.bind({ id: SCHEDULER_ID, host, port: 0 }, { listen: false });
        await early.connect({ host: aAddr.host, port: aAddr.port });
        const dropped = firstValueFrom(
          early.events$.pipe(
            filter((e) => e.type === 'disconnected'),
            timeout(10_000),
          ),
        );
        const reported = firstValueFrom(
          a.events$.pipe(
            filter((e) => e.type === 'error' && e.error.code === PsErrorCode.AUTH),
            timeout(10_000),
          ),
        );
        t.expect(await a.connect({ host: bAddr.host, port: bAddr.port })).toBe(SCHEDULER_ID);
        await dropped;
        await reported;
        // A later impostor is refused at its handshake.
        const late = make();
        await late.bind({ id: SCHEDULER_ID, host, port: 0 }, { listen: false });
        const err = await late.connect({ host: aAddr.host, port: aAddr.port }).catch((e: unknown) => e);
        t.expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
        // Frames from the scheduler at 'a' come from the real one only.
        const got = next(a);
        await b.send('a', encodeFrame(message(5)));
        const [f] = (await got) as InboundFrame[];
        t.expect(f!.from).toBe(SCHEDULER_ID);
        t.expect(decodeFrame(f!.frame).meta.ts).toBe(5);
      },
    );

    t.it('lets two nodes dial each other both ways (servers do, to forward to replicas)', async () => {
      const a = make();
      const c = make();
      const aAddr = await a.bind({ id: 'a', host, port: 0 });
      const cAddr = await c.bind({ id: 'c', host, port: 0 });
      t.expect(await a.connect({ host: cAddr.host, port: cAddr.port })).toBe('c');
      t.expect(await c.connect({ host: aAddr.host, port: aAddr.port })).toBe('a');
      const atC = next(c);
      await a.send('c', encodeFrame(message(7)));
      const [fc] = (await atC) as InboundFrame[];
      t.expect(fc!.from).toBe('a');
      t.expect(decodeFrame(fc!.frame).meta.ts).toBe(7);
      const atA = next(a);
      await c.send('a', encodeFrame(message(8)));
      const [fa] = (await atA) as InboundFrame[];
      t.expect(fa!.from).toBe('c');
      t.expect(decodeFrame(fa!.frame).meta.ts).toBe(8);
    });

    t.it('after close: sends reject with PS_ERR_CLOSED, frames$ completes, close is idempotent', async () => {
      const { client } = await pair();
      let completed = false;
      client.frames$.subscribe({ complete: () => (completed = true) });
      await client.close();
      await client.close();
      const err = await client.send('srv', encodeFrame(message(1))).catch((e: unknown) => e);
      t.expect(isPsError(err, PsErrorCode.CLOSED)).toBe(true);
      t.expect(completed).toBe(true);
    });

    const secure = opts.secure;
    if (!secure) return;
    const track = (tr: Transport) => {
      made.push(tr);
      return tr;
    };
    const refusal = (tr: Transport) =>
      firstValueFrom(
        tr.events$.pipe(
          filter((e) => e.type === 'error' && e.error.code === PsErrorCode.AUTH),
          timeout(10_000),
        ),
      );

    t.it('with the same secret on both sides: connects, and frames flow both ways', async () => {
      const server = track(secure(TEST_SECRET));
      const client = track(secure(TEST_SECRET));
      const addr = await server.bind({ id: 'srv', host, port: 0 });
      await client.bind({ id: 'cli', host, port: 0 }, { listen: false });
      t.expect(await client.connect({ host: addr.host, port: addr.port })).toBe('srv');
      const atServer = next(server);
      await client.send('srv', encodeFrame(message(1)));
      t.expect(((await atServer) as InboundFrame[])[0]!.from).toBe('cli');
      const atClient = next(client);
      await server.send('cli', encodeFrame(message(2)));
      t.expect(decodeFrame(((await atClient) as InboundFrame[])[0]!.frame).meta.ts).toBe(2);
    });

    t.it('refuses a wrong secret with PS_ERR_AUTH on both sides, and keeps serving', async () => {
      const server = track(secure(TEST_SECRET));
      const addr = await server.bind({ id: 'srv', host, port: 0 });
      const wrong = track(secure('not the secret, but just as long'));
      await wrong.bind({ id: 'mallory', host, port: 0 }, { listen: false });
      const logged = refusal(server);
      const err = await wrong.connect({ host: addr.host, port: addr.port }).catch((e: unknown) => e);
      t.expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
      t.expect((await logged).type).toBe('error');
      const err2 = await wrong.send('srv', encodeFrame(message(1))).catch((e: unknown) => e);
      t.expect(isPsError(err2, PsErrorCode.UNKNOWN_PEER)).toBe(true);
      const good = track(secure(TEST_SECRET));
      await good.bind({ id: 'cli', host, port: 0 }, { listen: false });
      await good.connect({ host: addr.host, port: addr.port });
      const got = next(server);
      await good.send('srv', encodeFrame(message(3)));
      const frames = (await got) as InboundFrame[];
      t.expect(frames.map((f) => f.from)).toEqual(['cli']);
    });

    t.it('refuses a secret on one side only, either way, with PS_ERR_AUTH', async () => {
      for (const [serverSecret, clientSecret] of [
        [TEST_SECRET, undefined],
        [undefined, TEST_SECRET],
      ] as const) {
        const server = track(secure(serverSecret));
        const addr = await server.bind({ id: 'srv', host, port: 0 });
        const client = track(secure(clientSecret));
        await client.bind({ id: 'cli', host, port: 0 }, { listen: false });
        const logged = refusal(server);
        const err = await client.connect({ host: addr.host, port: addr.port }).catch((e: unknown) => e);
        t.expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
        await logged;
      }
    });
  });
}

/**
 * Wraps a transport so that every frame it receives is delivered after a random delay of 0 to
 * `maxDelayMs` ms drawn from a seeded PRNG: frames overtake each other, so tests can check that
 * ordering guarantees hold under reordering. For tests only.
 */
export function reorderingTransport(inner: Transport, opts: { seed: number; maxDelayMs: number }): Transport {
  const random = seededRandom(opts.seed);
  const frames$: Observable<InboundFrame> = inner.frames$.pipe(
    mergeMap((f) => timer(Math.floor(random() * (opts.maxDelayMs + 1))).pipe(map(() => f))),
  );
  return {
    kind: `${inner.kind}+reorder`,
    bind: (self: NodeAddress, o?: BindOptions) => inner.bind(self, o),
    connect: (peer: PeerAddress) => inner.connect(peer),
    send: (peer: NodeId, frame: readonly Uint8Array[]) => inner.send(peer, frame),
    frames$,
    events$: inner.events$ as Observable<TransportEvent>,
    close: () => inner.close(),
  };
}

export { seededRandom } from './internal/seeded-random.js';
