import {
  type FrameChannel,
  type FrameChannelLimits,
  InboundBudget,
  isPsError,
  PsError,
  PsErrorCode,
} from '@ps/core';
import { runFrameTransportConformance, runMessageLayerSuite } from '@ps/core/testing';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { InprocFrameTransport } from './inproc-frame-transport.js';
import { InprocHub } from './inproc-hub.js';

const budget = new InboundBudget();
/** In-process channels emit the sender's parts, never one joined buffer. */
function parts(frame: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  if (!Array.isArray(frame)) throw new Error("expected the sender's parts array");
  return frame;
}
const limits = (maxFrameBytes = 1 << 20): FrameChannelLimits => ({ maxFrameBytes, budget });

const suiteHub = new InprocHub();
runFrameTransportConformance(
  { describe, it, expect, afterEach },
  'inproc',
  () => new InprocFrameTransport({ hub: suiteHub }),
  { address: () => ({ host: 'mem', port: 0 }), source: 'inproc' },
);
runMessageLayerSuite(
  { describe, it, expect, afterEach },
  'inproc',
  () => new InprocFrameTransport({ hub: suiteHub }),
  {
    host: 'mem',
  },
);

describe('InprocFrameTransport', () => {
  const made: InprocFrameTransport[] = [];
  const make = (opts: ConstructorParameters<typeof InprocFrameTransport>[0] = {}) => {
    const t = new InprocFrameTransport(opts);
    made.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.close()));
  });

  /** A listener and a dialer in a fresh hub, and the two ends of one channel between them. */
  const pair = async (listenMax?: number, dialMax?: number) => {
    const hub = new InprocHub();
    const server = make({ hub });
    const client = make({ hub });
    const accepted: FrameChannel[] = [];
    const at = await server.listen(
      { host: 'h', port: 0 },
      () => limits(listenMax),
      (ch) => accepted.push(ch),
    );
    const dialer = await client.dial(at, limits(dialMax), 1_000);
    expect(accepted).toHaveLength(1);
    return { hub, server, client, at, dialer, listener: accepted[0]! };
  };

  it('hands the receiver the very parts array the sender passed, in order', async () => {
    const { dialer, listener } = await pair();
    const got = lastValueFrom(listener.frames$.pipe(toArray()));
    const frames = [0, 1, 2].map((i) => [new Uint8Array([i]), new Uint8Array([i, i])]);
    await Promise.all(frames.map((f) => dialer.send(f)));
    dialer.close();
    const out = await got;
    expect(out).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(out[i]).toBe(frames[i]);
  });

  it('delivers asynchronously and resolves send once the frame was emitted', async () => {
    const { dialer, listener } = await pair();
    let arrived = 0;
    listener.frames$.subscribe(() => arrived++);
    const sent = dialer.send([new Uint8Array(8)]);
    expect(arrived).toBe(0);
    expect(dialer.queuedBytes).toBe(8);
    await sent;
    expect(arrived).toBe(1);
    expect(dialer.queuedBytes).toBe(0);
  });

  it('holds frames for the first subscriber, and sends wait until it reads (backpressure)', async () => {
    const { dialer, listener } = await pair();
    let settled = false;
    const sent = dialer.send([new Uint8Array(100)]).then(() => {
      settled = true;
    });
    const second = dialer.send([new Uint8Array(28)]);
    // Several turns of the microtask queue and one of the event loop: still nobody reads.
    await new Promise<void>((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(dialer.queuedBytes).toBe(128);
    const got = firstValueFrom(listener.frames$);
    await Promise.all([sent, second]);
    expect(parts(await got)[0]!.byteLength).toBe(100);
    expect(dialer.queuedBytes).toBe(0);
  });

  it('carries frames both ways on one channel', async () => {
    const { dialer, listener } = await pair();
    const back = firstValueFrom(dialer.frames$);
    listener.frames$.subscribe((f) => void listener.send(parts(f)));
    const frame = [new Uint8Array([7, 8, 9])];
    await dialer.send(frame);
    expect(await back).toBe(frame);
  });

  it('on a clean close delivers what was sent, then completes both ends; later sends reject PS_ERR_CLOSED', async () => {
    const { dialer, listener } = await pair();
    const got = lastValueFrom(listener.frames$.pipe(toArray()));
    const mine = lastValueFrom(dialer.frames$.pipe(toArray()));
    const sent = dialer.send([new Uint8Array([1])]);
    dialer.close();
    await sent;
    expect((await got).map((f) => parts(f)[0]![0])).toEqual([1]);
    expect(await mine).toEqual([]);
    for (const ch of [dialer, listener]) {
      const err = await ch.send([new Uint8Array(1)]).catch((e: unknown) => e);
      expect(isPsError(err, PsErrorCode.CLOSED)).toBe(true);
    }
  });

  it('on close with a reason rejects unread sends with it and fails the other end', async () => {
    const { dialer, listener } = await pair();
    const sent = dialer.send([new Uint8Array(4)]);
    const reason = new PsError(PsErrorCode.SLOW_PEER, 'test: the peer does not read');
    dialer.close(reason);
    await expect(sent).rejects.toBe(reason);
    expect(dialer.queuedBytes).toBe(0);
    const err = await lastValueFrom(listener.frames$).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    expect((err as PsError).message).toContain('the peer does not read');
  });

  it('refuses a frame past the medium limit with PS_ERR_FRAME_TOO_LARGE and sends nothing', async () => {
    const hub = new InprocHub();
    const server = make({ hub });
    const client = make({ hub, maxFrameBytes: 16 });
    expect(client.maxFrameBytes).toBe(16);
    const accepted: FrameChannel[] = [];
    const at = await server.listen(
      { host: 'h', port: 0 },
      () => limits(),
      (ch) => accepted.push(ch),
    );
    const ch = await client.dial(at, limits(), 100);
    const err = await ch.send([new Uint8Array(10), new Uint8Array(7)]).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    expect(ch.queuedBytes).toBe(0);
    const got = firstValueFrom(accepted[0]!.frames$);
    await ch.send([new Uint8Array(16)]);
    expect(parts(await got)[0]!.byteLength).toBe(16);
  });

  it("fails a frame over the receiving end's limit, and the channel; setMaxFrameBytes raises it", async () => {
    const { dialer, listener } = await pair(64);
    const received: number[] = [];
    const ended = new Promise<unknown>((resolve) => {
      listener.frames$.subscribe({ next: (f) => received.push(parts(f)[0]!.byteLength), error: resolve });
    });
    await dialer.send([new Uint8Array(64)]);
    listener.setMaxFrameBytes(128);
    await dialer.send([new Uint8Array(128)]);
    const err = await dialer.send([new Uint8Array(129)]).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    expect(isPsError(await ended, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    expect(received).toEqual([64, 128]);
    const back = await lastValueFrom(dialer.frames$).catch((e: unknown) => e);
    expect(isPsError(back, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
  });

  it('gives port 0 fresh ports, refuses an address in use with PS_ERR_BIND and releases it on close', async () => {
    const hub = new InprocHub();
    const a = make({ hub });
    const p1 = (await a.listen({ host: 'h', port: 0 }, limits, () => undefined)).port;
    const p2 = (await make({ hub }).listen({ host: 'h', port: 0 }, limits, () => undefined)).port;
    expect(p1).toBeGreaterThanOrEqual(1);
    expect(p2).not.toBe(p1);
    const err = await make({ hub })
      .listen({ host: 'h', port: p1 }, limits, () => undefined)
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.BIND)).toBe(true);
    expect(hub.addresses()).toEqual([`h:${p1}`, `h:${p2}`]);
    await a.close();
    expect(hub.lookup('h', p1)).toBeUndefined();
    const again = await make({ hub }).listen({ host: 'h', port: p1 }, limits, () => undefined);
    expect(again.port).toBe(p1);
  });

  it('refuses a dial at once with PS_ERR_PEER_UNREACHABLE where nobody listens, and keeps hubs apart', async () => {
    const hubA = new InprocHub();
    const at = await make({ hub: hubA }).listen({ host: 'h', port: 7 }, limits, () => undefined);
    const err = await make({ hub: new InprocHub() })
      .dial(at, limits(), 60_000)
      .catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    expect((err as PsError).message).toContain('nothing listens on h:7 in this hub');
    const ch = await make({ hub: hubA }).dial(at, limits(), 0);
    expect(ch.source).toBe('inproc');
  });

  it('closes every channel on close, and refuses use afterwards with PS_ERR_CLOSED', async () => {
    const { server, client, dialer, listener, at } = await pair();
    const done = lastValueFrom(dialer.frames$.pipe(toArray()));
    const sent = listener.send([new Uint8Array([5])]);
    await server.close();
    await sent;
    expect((await done).length).toBe(1);
    const err = await client.dial(at, limits(), 0).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    await client.close();
    const closed = await client.dial(at, limits(), 0).catch((e: unknown) => e);
    expect(isPsError(closed, PsErrorCode.CLOSED)).toBe(true);
    const listenErr = await client.listen(at, limits, () => undefined).catch((e: unknown) => e);
    expect(isPsError(listenErr, PsErrorCode.CLOSED)).toBe(true);
  });
});
