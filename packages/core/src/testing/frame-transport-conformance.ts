import { PsError, PsErrorCode } from '../errors.js';
import type {
  FrameAddress,
  FrameChannel,
  FrameChannelLimits,
  FrameTransport,
} from '../net/frame-transport.js';
import { InboundBudget } from '../net/inbound-budget.js';
import type { TestApi } from './test-api.js';

/** What {@link runFrameTransportConformance} needs to know about a medium beyond its factory. */
export interface FrameConformanceOptions {
  /**
   * The address to listen at for one test (default `{ host: '127.0.0.1', port: 0 }`). In-process
   * media give a fresh name or port per call; the suite listens once per address it is given.
   */
  address?: () => FrameAddress;
  /** The `source` every channel of this medium reports for the far end (default `127.0.0.1`). */
  source?: string;
  /**
   * An address where nobody listens, for the dial that must fail (default: listen with a fresh
   * transport at {@link address}, close it, and use the address it had).
   */
  unreachable?: () => Promise<FrameAddress>;
  /**
   * True for stream media that hold partial frames (TCP): the suite then also checks that a
   * frame larger than the node's whole inbound budget fails its channel with
   * `PS_ERR_INBOUND_BUDGET`. Default false (in-process media ignore the budget).
   */
  partialFrames?: boolean;
  /** The largest frame the suite sends, in bytes (default 6 MiB). */
  largestFrameBytes?: number;
}

/** Every wait of the suite gives up after this long, in ms (a failing medium fails, never hangs). */
const WAIT_MS = 15_000;

/** How a channel's frames$ ended, once it has. */
type Ending = { kind: 'complete' } | { kind: 'error'; error: unknown };

/** Subscribes to a channel at once and keeps what it receives, so tests can wait on it. */
class Recorder {
  readonly frames: Uint8Array[] = [];
  ending: Ending | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly channel: FrameChannel) {
    channel.frames$.subscribe({
      next: (f) => {
        this.frames.push(whole(f));
        this.wake();
      },
      error: (error: unknown) => {
        this.ending = { kind: 'error', error };
        this.wake();
      },
      complete: () => {
        this.ending = { kind: 'complete' };
        this.wake();
      },
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `test()` holds; rejects after {@link WAIT_MS} saying what it waited for. */
  until(what: string, test: () => boolean): Promise<void> {
    const start = Date.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gave up after ${Date.now() - start} ms waiting for ${what}`)),
        WAIT_MS,
      );
      const check = () => {
        if (test()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Waits for `n` frames in all. */
  count(n: number): Promise<void> {
    return this.until(`${n} frames (have ${this.frames.length})`, () => this.frames.length >= n);
  }

  /** Waits for frames$ to end, and returns how. */
  async ended(): Promise<Ending> {
    await this.until('frames$ to end', () => this.ending !== undefined);
    return this.ending!;
  }
}

/** A frame as one buffer (in-process media hand out the sender's parts). */
function whole(f: Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (f instanceof Uint8Array) return f;
  let n = 0;
  for (const p of f) n += p.byteLength;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of f) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** A frame of `bytes` bytes whose content tells its index: a u32 index, then a pattern of it. */
function pattern(index: number, bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (index * 31 + i * 7) & 0xff;
  if (bytes >= 4) new DataView(b.buffer).setUint32(0, index, true);
  return b;
}

/** Splits a frame into `k` parts (views), some of them empty. */
function split(frame: Uint8Array, k: number): Uint8Array[] {
  const parts: Uint8Array[] = [new Uint8Array(0)];
  const step = Math.ceil(frame.byteLength / k);
  for (let off = 0; off < frame.byteLength; off += step) {
    parts.push(frame.subarray(off, Math.min(off + step, frame.byteLength)));
  }
  return parts;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function codeOf(e: unknown): string | undefined {
  return e instanceof PsError ? e.code : undefined;
}

/**
 * The conformance suite of the small medium contract ({@link FrameTransport}, DESIGN.md
 * "Transports and the message layer"), with the test framework's `describe`/`it`/`expect`:
 * `runFrameTransportConformance({ describe, it, expect, afterEach }, 'tcp', () => new TcpFrameTransport())`.
 *
 * It checks: listening resolves a real address; dial and accept pair up (each end with its
 * `source`); frames both ways arrive whole, unchanged and in order (sizes 0 to several MiB,
 * multi-part sends); a burst of large unawaited sends all resolve and arrive (backpressure); the
 * channel's frame limit is enforced before buffering and can be raised (`PS_ERR_FRAME_TOO_LARGE`
 * on the receiving channel, which errors without crashing the process, the transport serving
 * on), and a send over the medium's own limit rejects with nothing sent; a close from either end
 * completes the other's frames$ after the frames sent before it; `close(reason)` rejects the
 * sends still queued with the reason and ends the far side; a dial to a closed port rejects `PS_ERR_PEER_UNREACHABLE` within its timeout; closing the
 * transport closes its channels; `queuedBytes` returns to 0 once sends settle.
 *
 * @param t the framework's functions (vitest or jest)
 * @param name shown in the test titles
 * @param make a fresh medium; every medium made is closed after each test
 */
export function runFrameTransportConformance(
  t: TestApi,
  name: string,
  make: () => FrameTransport,
  opts: FrameConformanceOptions = {},
): void {
  const address = opts.address ?? (() => ({ host: '127.0.0.1', port: 0 }));
  const source = opts.source ?? '127.0.0.1';
  const largest = opts.largestFrameBytes ?? 6 * 1024 * 1024;
  const made: FrameTransport[] = [];
  const fresh = () => {
    const m = make();
    made.push(m);
    return m;
  };
  const limits = (maxFrameBytes = largest + 1024, budgetBytes = 256 * 1024 * 1024): FrameChannelLimits => ({
    maxFrameBytes,
    budget: new InboundBudget(budgetBytes),
  });

  /** A listening medium, a dialing one, and the two ends of one channel, both recorded. */
  const pair = async (acceptLimits: () => FrameChannelLimits = () => limits()) => {
    const server = fresh();
    const client = fresh();
    const accepted: FrameChannel[] = [];
    const recorders: Recorder[] = [];
    let wake: (() => void) | undefined;
    const at = await server.listen(address(), acceptLimits, (ch) => {
      accepted.push(ch);
      recorders.push(new Recorder(ch));
      wake?.();
    });
    const dialed = await client.dial(at, limits(), WAIT_MS);
    const near = new Recorder(dialed);
    if (recorders.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the listener never accepted the dial')), WAIT_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return {
      server,
      client,
      at,
      dialed,
      near,
      accepted: accepted[0]!,
      far: recorders[0]!,
      acceptedAll: accepted,
    };
  };

  t.describe(`frame transport conformance: ${name}`, () => {
    t.afterEach(async () => {
      await Promise.all(made.splice(0).map((m) => m.close()));
    });

    t.it('listens at the address asked, a real one (port 0 becomes the port chosen)', async () => {
      const asked = address();
      const m = fresh();
      const at = await m.listen(
        asked,
        () => limits(),
        () => undefined,
      );
      t.expect(at.host).toBe(asked.host);
      if (asked.port === 0) t.expect(at.port).toBeGreaterThan(0);
      else t.expect(at.port).toBe(asked.port);
      t.expect(typeof m.kind).toBe('string');
      t.expect(m.maxFrameBytes).toBeGreaterThan(largest);
    });

    t.it('pairs a dial with one accepted channel, each end naming its source', async () => {
      const { dialed, accepted, acceptedAll } = await pair();
      t.expect(acceptedAll.length).toBe(1);
      t.expect(accepted.source).toBe(source);
      t.expect(dialed.source).toBe(source);
    });

    t.it('carries frames both ways, whole and in order (0 bytes to several MiB, multi-part)', async () => {
      const { dialed, accepted, near, far } = await pair();
      const sizes = [0, 1, 3, 4, 5, 100, 4096, 65_535, 65_536, 65_537, 1_000_000, largest];
      const frames = sizes.map((s, i) => pattern(i, s));
      await Promise.all(frames.map((f, i) => dialed.send(split(f, 1 + (i % 4)))));
      await far.count(frames.length);
      t.expect(far.frames.map((f) => f.byteLength)).toEqual(sizes);
      t.expect(far.frames.every((f, i) => equalBytes(f, frames[i]!))).toBe(true);
      await Promise.all(frames.map((f) => accepted.send([f])));
      await near.count(frames.length);
      t.expect(near.frames.every((f, i) => equalBytes(f, frames[i]!))).toBe(true);
      t.expect(near.ending).toBe(undefined);
      t.expect(far.ending).toBe(undefined);
    });

    t.it('delivers 3,000 small frames sent without waiting, in order', async () => {
      const { dialed, far } = await pair();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 3000; i++) sends.push(dialed.send([pattern(i, 4 + (i % 50))]));
      await Promise.all(sends);
      await far.count(3000);
      const order = far.frames.map((f) => new DataView(f.buffer, f.byteOffset, 4).getUint32(0, true));
      t.expect(order).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    });

    t.it(
      'takes a burst of large unawaited sends: all resolve, all arrive, queuedBytes back to 0',
      async () => {
        const { dialed, far } = await pair();
        const frames = Array.from({ length: 24 }, (_, i) => pattern(i, 1024 * 1024 + i));
        const sends = frames.map((f) => dialed.send(split(f, 3)));
        t.expect(dialed.queuedBytes).toBeGreaterThan(0);
        await Promise.all(sends);
        await far.count(frames.length);
        t.expect(far.frames.every((f, i) => equalBytes(f, frames[i]!))).toBe(true);
        t.expect(dialed.queuedBytes).toBe(0);
      },
    );

    t.it(
      'refuses a frame over the channel limit before buffering it (PS_ERR_FRAME_TOO_LARGE), and serves on',
      async () => {
        const budget = new InboundBudget(256 * 1024 * 1024);
        const { server, at, dialed, far } = await pair(() => ({ maxFrameBytes: 1024, budget }));
        await dialed.send([pattern(0, 1024)]);
        await far.count(1);
        // 64 MiB announced (views of one buffer): refused on its length, not gathered.
        const chunk = new Uint8Array(1024 * 1024);
        const big = Array.from({ length: 64 }, () => chunk);
        dialed.send(big).catch(() => undefined);
        const end = await far.ended();
        t.expect(end.kind).toBe('error');
        t.expect(codeOf((end as { error: unknown }).error)).toBe(PsErrorCode.FRAME_TOO_LARGE);
        t.expect(far.frames.length).toBe(1);
        t.expect(budget.usedBytes).toBe(0);
        // The medium still accepts and carries frames.
        const again = fresh();
        const ch = await again.dial(at, limits(), WAIT_MS);
        const back = new Recorder(ch);
        t.expect(server.kind).toBe(again.kind);
        await ch.send([pattern(1, 10)]);
        t.expect(back.ending).toBe(undefined);
      },
    );

    t.it('raises the channel limit with setMaxFrameBytes (frames up to it pass from then on)', async () => {
      const { dialed, accepted, far } = await pair(() => limits(4096));
      await dialed.send([pattern(0, 4096)]);
      await far.count(1);
      accepted.setMaxFrameBytes(2 * 1024 * 1024);
      const f = pattern(1, 2 * 1024 * 1024);
      await dialed.send(split(f, 2));
      await far.count(2);
      t.expect(equalBytes(far.frames[1]!, f)).toBe(true);
      accepted.setMaxFrameBytes(100);
      dialed.send([pattern(2, 101)]).catch(() => undefined);
      const end = await far.ended();
      t.expect(codeOf((end as { error?: unknown }).error)).toBe(PsErrorCode.FRAME_TOO_LARGE);
    });

    t.it(
      'rejects a send over the medium’s maxFrameBytes with PS_ERR_FRAME_TOO_LARGE, nothing sent',
      async () => {
        const { client, dialed, far } = await pair();
        const chunk = new Uint8Array(16 * 1024 * 1024);
        const parts = Array.from(
          { length: Math.floor(client.maxFrameBytes / chunk.byteLength) + 1 },
          () => chunk,
        );
        const err = await dialed.send(parts).then(
          () => undefined,
          (e: unknown) => e,
        );
        t.expect(codeOf(err)).toBe(PsErrorCode.FRAME_TOO_LARGE);
        await dialed.send([pattern(5, 8)]);
        await far.count(1);
        t.expect(equalBytes(far.frames[0]!, pattern(5, 8))).toBe(true);
        t.expect(far.ending).toBe(undefined);
      },
    );

    if (opts.partialFrames) {
      t.it(
        'fails a channel whose frame is larger than the whole inbound budget (PS_ERR_INBOUND_BUDGET)',
        async () => {
          const budget = new InboundBudget(1024 * 1024);
          const { dialed, far } = await pair(() => ({ maxFrameBytes: 8 * 1024 * 1024, budget }));
          await dialed.send([pattern(0, 512 * 1024)]);
          await far.count(1);
          dialed.send([pattern(1, 2 * 1024 * 1024)]).catch(() => undefined);
          const end = await far.ended();
          t.expect(codeOf((end as { error?: unknown }).error)).toBe(PsErrorCode.INBOUND_BUDGET);
          t.expect(budget.usedBytes).toBe(0);
        },
      );
    }

    t.it(
      'a close of the dialed end delivers what was sent before it, then completes the other end',
      async () => {
        const { dialed, far } = await pair();
        const sends = [0, 1, 2].map((i) => dialed.send([pattern(i, 70_000)]));
        dialed.close();
        dialed.close();
        await Promise.all(sends);
        t.expect((await far.ended()).kind).toBe('complete');
        t.expect(far.frames.length).toBe(3);
        const err = await dialed.send([pattern(9, 1)]).then(
          () => undefined,
          (e: unknown) => e,
        );
        t.expect(codeOf(err)).toBe(PsErrorCode.CLOSED);
      },
    );

    t.it('a close of the accepted end completes the dialed end', async () => {
      const { accepted, near } = await pair();
      await accepted.send([pattern(3, 9)]);
      accepted.close();
      t.expect((await near.ended()).kind).toBe('complete');
      t.expect(near.frames.length).toBe(1);
    });

    t.it('close(reason) rejects the sends still queued with the reason and ends the far side', async () => {
      const { dialed, far, near } = await pair();
      const chunk = new Uint8Array(1024 * 1024);
      const sends = Array.from({ length: 16 }, () =>
        dialed.send([chunk]).then(
          () => 'sent',
          (e: unknown) => codeOf(e),
        ),
      );
      dialed.close(new PsError(PsErrorCode.SLOW_PEER, 'the test closes this channel'));
      const results = await Promise.all(sends);
      t.expect(results[15]).toBe(PsErrorCode.SLOW_PEER);
      const end = await far.ended();
      if (end.kind === 'error') t.expect(end.error).toBeInstanceOf(PsError);
      t.expect(far.frames.length).toBeLessThan(16);
      await near.ended();
      const late = await dialed.send([chunk]).then(
        () => 'sent',
        (e: unknown) => codeOf(e),
      );
      t.expect(late).toBe(PsErrorCode.SLOW_PEER);
    });

    t.it('rejects a dial to a closed port with PS_ERR_PEER_UNREACHABLE within its timeout', async () => {
      let at: FrameAddress;
      if (opts.unreachable) at = await opts.unreachable();
      else {
        const gone = make();
        at = await gone.listen(
          address(),
          () => limits(),
          () => undefined,
        );
        await gone.close();
      }
      const m = fresh();
      const t0 = Date.now();
      const err = await m.dial(at, limits(), 2000).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.expect(codeOf(err)).toBe(PsErrorCode.PEER_UNREACHABLE);
      t.expect(Date.now() - t0).toBeLessThan(2000 + 1000);
    });

    t.it('close() of a transport closes its channels, and then it dials no more', async () => {
      const { server, client, at, near, far } = await pair();
      await server.close();
      await server.close();
      t.expect((await far.ended()).kind).toBe('complete');
      await near.ended();
      const err = await client.dial(at, limits(), 2000).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.expect(codeOf(err)).toBe(PsErrorCode.PEER_UNREACHABLE);
      await client.close();
      const err2 = await client.dial(at, limits(), 2000).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.expect(codeOf(err2)).toBe(PsErrorCode.CLOSED);
    });

    t.it('closing the dialing transport completes the accepted end', async () => {
      const { client, far } = await pair();
      await client.close();
      t.expect((await far.ended()).kind).toBe('complete');
    });
  });
}
