import { filter, firstValueFrom, type Observable, take, timeout, toArray } from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import type { FrameAddress, FrameChannel, FrameTransport } from '../net/frame-transport.js';
import { InboundBudget } from '../net/inbound-budget.js';
import { MessageLayer, type MessageLayerOptions } from '../net/message-layer.js';
import type { InboundFrame, TransportEvent } from '../net/transport.js';
import type { NodeId } from '../wire/message.js';
import type { TestApi } from './test-api.js';

/** What {@link runMessageLayerSuite} needs to know about a medium beyond its factory. */
export interface MessageLayerSuiteOptions {
  /** The host (or in-process name) to listen at, port 0 (default `127.0.0.1`). */
  host?: string;
  /**
   * Stops reading one channel at the medium (a peer that never reads: TCP pauses its socket),
   * so the suite can check `maxQueuedBytes`. Without it that case is left out.
   */
  stopReading?: (channel: FrameChannel) => void;
}

/** A secret for the suite (never use a published secret for a real cluster). */
const SECRET = 'a message layer suite secret, 32+';

/** Every wait of the suite gives up after this long, in ms. */
const WAIT_MS = 15_000;

/** A medium that records every channel it makes, so a test can cut one (the channel "dies"). */
function recording(inner: FrameTransport, channels: FrameChannel[]): FrameTransport {
  const wrapped: FrameTransport = {
    kind: inner.kind,
    maxFrameBytes: inner.maxFrameBytes,
    listen: (at, limits, accept) =>
      inner.listen(at, limits, (ch) => {
        channels.push(ch);
        accept(ch);
      }),
    dial: async (at, limits, ms) => {
      const ch = await inner.dial(at, limits, ms);
      channels.push(ch);
      return ch;
    },
    close: () => inner.close(),
  };
  if (inner.earlyCloseHint !== undefined) return { ...wrapped, earlyCloseHint: inner.earlyCloseHint };
  return wrapped;
}

const errorOf = (events$: Observable<TransportEvent>, code: string) =>
  firstValueFrom(
    events$.pipe(
      filter((e) => e.type === 'error' && e.error.code === code),
      timeout(WAIT_MS),
    ),
  );

const eventOf = (events$: Observable<TransportEvent>, type: 'connected' | 'disconnected', peer: NodeId) =>
  firstValueFrom(
    events$.pipe(
      filter((e) => e.type === type && e.peer === peer),
      timeout(WAIT_MS),
    ),
  );

const framesOf = (frames$: Observable<InboundFrame>, n: number) =>
  firstValueFrom(frames$.pipe(take(n), toArray(), timeout(WAIT_MS)));

const codeOf = (e: unknown) => (e instanceof PsError ? e.code : undefined);

const frameOf = (i: number, bytes = 16) => {
  const b = new Uint8Array(bytes);
  b[0] = i & 0xff;
  b[1] = (i >> 8) & 0xff;
  return [b];
};

/** Resolves once a channel's frames$ ended (completed or errored), bounded. */
const ended = (ch: FrameChannel) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the channel did not end')), WAIT_MS);
    ch.frames$.subscribe({
      error: () => {
        clearTimeout(timer);
        resolve();
      },
      complete: () => {
        clearTimeout(timer);
        resolve();
      },
    });
  });

/**
 * The message layer's guarantees over a given medium (DESIGN.md, "Transports and the message
 * layer"): the handshake names both ends, with a secret too; a wrong secret is refused
 * (`PS_ERR_AUTH`, both sides) and the listener serves on; a peer claiming the listener's id is
 * refused (`PS_ERR_HANDSHAKE`); a dialed peer whose channel dies is reconnected and a send made
 * meanwhile arrives; a peer that never reads is dropped at `maxQueuedBytes` (`PS_ERR_SLOW_PEER`);
 * silent channels time out (`helloTimeoutMs`) and those past the pending-handshake cap per source
 * are refused at once (`PS_ERR_RATE_LIMIT`); a frame over the hello limit before the handshake is
 * refused (`PS_ERR_FRAME_TOO_LARGE`); a peer over `maxMessagesPerSecond` is disconnected
 * (`PS_ERR_RATE_LIMIT`); a send to an unknown peer rejects `PS_ERR_UNKNOWN_PEER`.
 *
 * @param t the framework's functions (vitest or jest)
 * @param name shown in the test titles
 * @param makeFrames a fresh medium; every layer (and raw medium) made is closed after each test
 */
export function runMessageLayerSuite(
  t: TestApi,
  name: string,
  makeFrames: () => FrameTransport,
  opts: MessageLayerSuiteOptions = {},
): void {
  const host = opts.host ?? '127.0.0.1';
  const layers: MessageLayer[] = [];
  const media: FrameTransport[] = [];
  const layer = (o: MessageLayerOptions = {}, channels: FrameChannel[] = []) => {
    const l = new MessageLayer(recording(makeFrames(), channels), o);
    layers.push(l);
    return l;
  };
  const rawMedium = () => {
    const m = makeFrames();
    media.push(m);
    return m;
  };
  const rawLimits = () => ({ maxFrameBytes: 1 << 20, budget: new InboundBudget(1 << 28) });
  const listening = async (o: MessageLayerOptions = {}, channels: FrameChannel[] = []) => {
    const server = layer(o, channels);
    const addr = await server.bind({ id: 'srv', host, port: 0 });
    return { server, addr, at: { host: addr.host, port: addr.port } as FrameAddress };
  };

  t.describe(`message layer: ${name}`, () => {
    t.afterEach(async () => {
      await Promise.all([
        ...layers.splice(0).map((l) => l.close()),
        ...media.splice(0).map((m) => m.close()),
      ]);
    });

    t.it('handshakes with a secret: both ends named, frames both ways', async () => {
      const { server, at } = await listening({ secret: SECRET });
      const client = layer({ secret: SECRET });
      await client.bind({ id: 'cli', host, port: 0 }, { listen: false });
      t.expect(await client.connect(at)).toBe('srv');
      const atServer = framesOf(server.frames$, 1);
      await client.send('srv', frameOf(1));
      t.expect((await atServer)[0]!.from).toBe('cli');
      const atClient = framesOf(client.frames$, 1);
      await server.send('cli', frameOf(2));
      const [f] = await atClient;
      t.expect(f!.from).toBe('srv');
    });

    t.it('refuses a wrong secret with PS_ERR_AUTH on both sides, and serves on', async () => {
      const { server, at } = await listening({ secret: SECRET });
      const logged = errorOf(server.events$, PsErrorCode.AUTH);
      const wrong = layer({ secret: 'not the secret, but just as long!' });
      await wrong.bind({ id: 'mallory', host, port: 0 }, { listen: false });
      t.expect(codeOf(await wrong.connect(at).catch((e: unknown) => e))).toBe(PsErrorCode.AUTH);
      await logged;
      const good = layer({ secret: SECRET });
      await good.bind({ id: 'cli', host, port: 0 }, { listen: false });
      t.expect(await good.connect(at)).toBe('srv');
    });

    t.it('refuses a peer claiming the listener’s own id with PS_ERR_HANDSHAKE', async () => {
      const { at } = await listening();
      const twin = layer();
      await twin.bind({ id: 'srv', host, port: 0 }, { listen: false });
      t.expect(codeOf(await twin.connect(at).catch((e: unknown) => e))).toBe(PsErrorCode.HANDSHAKE);
    });

    t.it('rejects a send to an unknown peer with PS_ERR_UNKNOWN_PEER', async () => {
      const { server } = await listening();
      t.expect(codeOf(await server.send('nobody', frameOf(0)).catch((e: unknown) => e))).toBe(
        PsErrorCode.UNKNOWN_PEER,
      );
    });

    t.it('reconnects a dialed peer whose channel died; a send made meanwhile arrives', async () => {
      const serverChannels: FrameChannel[] = [];
      const { server, at } = await listening({}, serverChannels);
      const client = layer({ reconnectWindowMs: 10_000 });
      await client.bind({ id: 'cli', host, port: 0 }, { listen: false });
      await client.connect(at);
      const lost = eventOf(client.events$, 'disconnected', 'srv');
      const back = eventOf(client.events$, 'connected', 'srv');
      const gone = eventOf(server.events$, 'disconnected', 'cli');
      t.expect(serverChannels.length).toBe(1);
      serverChannels[0]!.close(new PsError(PsErrorCode.PEER_UNREACHABLE, 'the suite cuts this channel'));
      await lost;
      await gone;
      const got = framesOf(server.frames$, 1);
      await client.send('srv', frameOf(7));
      await back;
      const [f] = await got;
      t.expect(f!.from).toBe('cli');
      t.expect(serverChannels.length).toBe(2);
    });

    t.it(
      'closes silent channels after helloTimeoutMs, and refuses those past the cap per source (PS_ERR_RATE_LIMIT)',
      async () => {
        const { server, at } = await listening({ helloTimeoutMs: 2000, maxPendingHandshakesPerSource: 3 });
        const capped = errorOf(server.events$, PsErrorCode.RATE_LIMIT);
        const timedOut = errorOf(server.events$, PsErrorCode.HANDSHAKE);
        const m = rawMedium();
        const t0 = Date.now();
        // A channel refused at once may end before the medium's own handshake (TLS) completes its dial.
        const when = await Promise.all(
          Array.from({ length: 8 }, () =>
            m.dial(at, rawLimits(), WAIT_MS).then(
              (ch) => ended(ch),
              () => undefined,
            ),
          ).map((p) => p.then(() => Date.now() - t0)),
        );
        t.expect(when.filter((ms) => ms < 1500).length).toBe(5); // refused at once: 3 may wait
        t.expect(when.filter((ms) => ms >= 1900).length).toBe(3); // the 3 waited for their timeout
        await capped;
        await timedOut;
        const c = layer();
        await c.bind({ id: 'cli', host, port: 0 }, { listen: false });
        t.expect(await c.connect(at)).toBe('srv');
      },
    );

    t.it('refuses a frame over the hello limit before the handshake (PS_ERR_FRAME_TOO_LARGE)', async () => {
      const { server, at } = await listening({ maxFrameBytes: 64 * 1024 * 1024 });
      const refused = errorOf(server.events$, PsErrorCode.FRAME_TOO_LARGE);
      const ch = await rawMedium().dial(at, rawLimits(), WAIT_MS);
      const end = ended(ch);
      ch.send([new Uint8Array(8192)]).catch(() => undefined);
      await refused;
      await end;
    });

    t.it(
      'disconnects a peer over maxMessagesPerSecond (PS_ERR_RATE_LIMIT) and hears it again after it reconnects',
      async () => {
        const { server, at } = await listening({ maxMessagesPerSecond: 50 });
        const fast = layer({ reconnectWindowMs: 5_000 });
        await fast.bind({ id: 'fast', host, port: 0 }, { listen: false });
        await fast.connect(at);
        let received = 0;
        const sub = server.frames$.subscribe((f) => {
          if (f.from === 'fast') received++;
        });
        const limited = errorOf(server.events$, PsErrorCode.RATE_LIMIT);
        const lost = eventOf(fast.events$, 'disconnected', 'srv');
        await Promise.all(
          Array.from({ length: 500 }, (_, i) => fast.send('srv', frameOf(i)).catch(() => undefined)),
        );
        const ev = await limited;
        t.expect(ev.type === 'error' && ev.peer).toBe('fast');
        await lost;
        sub.unsubscribe();
        t.expect(received).toBeGreaterThanOrEqual(50);
        t.expect(received).toBeLessThan(500);
        const again = framesOf(server.frames$, 1);
        await fast.send('srv', frameOf(1));
        t.expect((await again)[0]!.from).toBe('fast');
      },
    );

    const stopReading = opts.stopReading;
    if (stopReading) {
      t.it('drops an accepted peer that never reads at maxQueuedBytes (PS_ERR_SLOW_PEER)', async () => {
        const { server, at } = await listening({ maxQueuedBytes: 4 * 1024 * 1024 });
        const clientChannels: FrameChannel[] = [];
        const sluggish = layer({ reconnectWindowMs: 200 }, clientChannels);
        await sluggish.bind({ id: 'sluggish', host, port: 0 }, { listen: false });
        await sluggish.connect(at);
        stopReading(clientChannels[0]!);
        const slow = errorOf(server.events$, PsErrorCode.SLOW_PEER);
        const chunk = new Uint8Array(1024 * 1024);
        const results: string[] = [];
        for (let i = 0; i < 200 && !results.includes(PsErrorCode.SLOW_PEER); i++) {
          const r = await Promise.race([
            server.send('sluggish', [chunk]).then(
              () => 'sent',
              (e: unknown) => codeOf(e) ?? 'other',
            ),
            new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
          ]);
          results.push(r);
        }
        t.expect(results).toContain(PsErrorCode.SLOW_PEER);
        const ev = await slow;
        t.expect(ev.type === 'error' && ev.peer).toBe('sluggish');
      });
    }
  });
}
