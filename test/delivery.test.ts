// Exactly-once requests and deadlines in one process (inproc transport): frames are lost on the
// way (a transport that drops some frames as a reset connection would), the worker resends, the
// servers apply each push once; a server that never answers makes wait() reject with
// PS_ERR_TIMEOUT. The same guarantees over real TCP with resets: test/faults/delivery.test.ts.
import {
  createServer,
  createWorker,
  PsError,
  PsErrorCode,
  type RequestHandler,
  Scheduler,
  sumHandler,
  type Transport,
} from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

/** Drops every `every`-th frame sent to a peer whose id starts with `prefix` (it never arrives). */
function lossy(inner: Transport, prefix: string, every: number, stats: { dropped: number }): Transport {
  let n = 0;
  return new Proxy(inner, {
    get(t, prop) {
      if (prop === 'send') {
        return (peer: string, frame: readonly Uint8Array[]) => {
          if (peer.startsWith(prefix) && ++n % every === 0) {
            stats.dropped++;
            return Promise.resolve();
          }
          return t.send(peer, frame);
        };
      }
      const v = (t as unknown as Record<string | symbol, unknown>)[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

async function cluster(opts: {
  handler?: () => RequestHandler;
  serverLoss?: number;
  workerLoss?: number;
  requestTimeoutMs?: number;
}) {
  const hub = new InprocHub();
  const stats = { dropped: 0 };
  const scheduler = await Scheduler.start({
    transport: inproc({ hub }),
    numServers: 2,
    numWorkers: 1,
    logger: quiet,
  });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const resend = { intervalMs: 40, maxIntervalMs: 160 };
  const server = () =>
    createServer({
      transport: opts.serverLoss
        ? lossy(inproc({ hub }), 'worker-', opts.serverLoss, stats)
        : inproc({ hub }),
      scheduler: at,
      logger: quiet,
      handler: (opts.handler ?? sumHandler)(),
      delivery: { resend },
    });
  const [s1, s2, w] = await Promise.all([
    server(),
    server(),
    createWorker({
      transport: opts.workerLoss
        ? lossy(inproc({ hub }), 'server-', opts.workerLoss, stats)
        : inproc({ hub }),
      scheduler: at,
      logger: quiet,
      delivery: { resend, requestTimeoutMs: opts.requestTimeoutMs ?? 20_000 },
    }),
  ]);
  closers.push(
    () => w.node.close(),
    () => s1.node.close(),
    () => s2.node.close(),
    () => scheduler.shutdown(),
  );
  return { worker: w.worker, workerId: w.node.id, servers: [s1, s2], stats };
}

const keys = BigUint64Array.from({ length: 64 }, (_, i) => BigInt(i) * ((1n << 64n) / 64n) + 3n);

describe('delivery: exactly once, with deadlines', () => {
  it('lost requests and lost answers are resent; every push is applied exactly once', async () => {
    const { worker, stats } = await cluster({ serverLoss: 3, workerLoss: 4 });
    const waits: Promise<unknown>[] = [];
    for (let p = 0; p < 60; p++) {
      const sparse = keys.filter((_, i) => (i + p) % 3 !== 0);
      waits.push(
        worker.wait(worker.push({ keys: sparse, vals: new Float32Array(sparse.length).fill(p + 1) })),
      );
    }
    await Promise.all(waits);
    const got = await worker.wait(worker.pull(keys));
    const want = keys.map((_, i) => {
      let s = 0;
      for (let p = 0; p < 60; p++) if ((i + p) % 3 !== 0) s += p + 1;
      return BigInt(s);
    });
    expect(Array.from(got.vals)).toEqual(Array.from(want, Number));
    expect(stats.dropped).toBeGreaterThan(20);
  });

  it('a server that never answers: wait() rejects with PS_ERR_TIMEOUT naming it, after resends applied nothing twice', async () => {
    let calls = 0;
    const never: () => RequestHandler = () => () => {
      calls++;
      return new Promise<undefined>(() => undefined);
    };
    const { worker } = await cluster({ handler: never, requestTimeoutMs: 600 });
    const started = Date.now();
    const err = await worker
      .wait(worker.push({ keys: keys.subarray(0, 1), vals: new Float32Array([1]) }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(PsError);
    expect((err as PsError).code).toBe(PsErrorCode.TIMEOUT);
    expect((err as PsError).message).toMatch(/got no answer from server server-[0-9a-f]+ within 600 ms/);
    expect(waited).toBeGreaterThanOrEqual(590);
    expect(waited).toBeLessThan(5_000);
    expect(calls).toBe(1); // resent several times (every 40 to 160 ms), applied once
  });

  it('a sparse push sets the clock of the ring ranges its keys fall in, not the spans between its keys', async () => {
    const { worker, workerId, servers } = await cluster({});
    // Two keys of one range far apart, and nothing between them pushed.
    const view = servers[0]!.node.view;
    const ranges = view.ring.ranges();
    const r = ranges.find((x) => x.end - x.begin > 1000n)!;
    const sparse = BigUint64Array.from([r.begin + 1n, r.end - 2n]);
    await worker.wait(worker.push({ keys: sparse, vals: new Float32Array([1, 2]) }));
    const owner = servers.find((s) => s.node.id === r.owner)!;
    const clock = owner.servers[0]!.replicas.clockOf(workerId)!;
    const bounds = new Set(ranges.flatMap((x) => [x.begin, x.end]));
    for (const seg of clock.segments()) {
      expect(bounds.has(seg.begin), `segment starts at ${seg.begin}`).toBe(true);
      expect(bounds.has(seg.end), `segment ends at ${seg.end}`).toBe(true);
    }
    expect(clock.get(r.begin)).toBe(0);
    expect(clock.get(r.end - 1n)).toBe(0);
  });
});
