import { type FrameChannel, InboundBudget } from '@ps/core';
import { runFrameTransportConformance, runMessageLayerSuite } from '@ps/core/testing';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ThreadFrameTransport } from './thread-frame-transport.js';
import { ThreadHub } from './thread-hub.js';

// Both ends live in this thread here, each with its own port to one hub; the cross-thread case
// is in thread-frame-worker.test.ts.
const hub = new ThreadHub();
afterAll(() => hub.close());
runFrameTransportConformance(
  { describe, it, expect, afterEach },
  'threads',
  () => new ThreadFrameTransport({ port: hub.connectPort() }),
  { address: () => ({ host: 'mem', port: 0 }), source: 'threads' },
);
runMessageLayerSuite(
  { describe, it, expect, afterEach },
  'threads',
  () => new ThreadFrameTransport({ port: hub.connectPort() }),
  { host: 'mem' },
);

describe('ThreadFrameTransport flow control', () => {
  const made: ThreadFrameTransport[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((m) => m.close()));
  });
  const make = (maxBytesInFlight?: number) => {
    const m = new ThreadFrameTransport(
      maxBytesInFlight === undefined
        ? { port: hub.connectPort() }
        : { port: hub.connectPort(), maxBytesInFlight },
    );
    made.push(m);
    return m;
  };
  const limits = () => ({ maxFrameBytes: 1 << 20, budget: new InboundBudget() });

  it('holds sends past the window until the receiver reads, then delivers all in order', async () => {
    const accepted: FrameChannel[] = [];
    let wake: () => void = () => undefined;
    const got = new Promise<void>((r) => {
      wake = r;
    });
    const at = await make().listen({ host: 'mem', port: 0 }, limits, (ch) => {
      accepted.push(ch);
      wake();
    });
    const ch = await make(1000).dial(at, limits(), 5_000);
    await got;
    const settled: number[] = [];
    const sends = [0, 1, 2, 3].map((i) => ch.send([new Uint8Array(600).fill(i)]).then(() => settled.push(i)));
    // The first frame goes alone (the window is empty); the second would pass 1,000 bytes.
    await sends[0];
    // A frame the other way comes after anything the receiver posted before it (one port, in
    // order): so no acknowledgement is on its way, and the held sends stay held.
    const back = firstValueFrom(ch.frames$);
    await accepted[0]!.send([new Uint8Array([9])]);
    expect(Array.from((await back) as Uint8Array)).toEqual([9]);
    expect(settled).toEqual([0]);
    expect(ch.queuedBytes).toBe(1800);
    const frames: number[] = [];
    accepted[0]!.frames$.subscribe((f) => frames.push((f as Uint8Array)[0]!));
    await Promise.all(sends);
    expect(settled).toEqual([0, 1, 2, 3]);
    expect(ch.queuedBytes).toBe(0);
    const start = Date.now();
    while (frames.length < 4 && Date.now() - start < 5_000) await new Promise<void>((r) => setImmediate(r));
    expect(frames).toEqual([0, 1, 2, 3]);
  });
});
