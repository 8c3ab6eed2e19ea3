// A whole cluster inside one process over real TCP on 127.0.0.1: the worker API, several
// tables, errors from servers, barriers and shutdown.
import {
  createServer,
  createWorker,
  isPsError,
  type KVWorker,
  PsErrorCode,
  type PsNode,
  Scheduler,
  sumHandler,
} from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
});

async function cluster(numServers: number, numWorkers: number, opts: { heartbeatTimeoutMs?: number } = {}) {
  const scheduler = await Scheduler.start({
    transport: tcp(),
    numServers,
    numWorkers,
    logger: quiet,
    ...opts,
  });
  closers.push(() => scheduler.shutdown());
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const node = { transport: tcp(), scheduler: at, logger: quiet, heartbeatIntervalMs: 100 };
  const handlers = Array.from({ length: numServers }, () => sumHandler());
  const servers = handlers.map((h) =>
    createServer({ ...node, transport: tcp(), handler: { 0: h, 1: sumHandler({ dtype: 'float64' }) } }),
  );
  const workers = Array.from({ length: numWorkers }, () =>
    createWorker({ ...node, transport: tcp(), apps: [0, 1] }),
  );
  const s = await Promise.all(servers);
  const w = await Promise.all(workers);
  for (const x of [...s, ...w]) closers.push(() => x.node.close());
  return { scheduler, servers: s, workers: w, at, handlers };
}

const spread = (n: number) => {
  const step = (1n << 64n) / BigInt(n);
  return BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * step + 3n);
};

describe('a cluster in one process over TCP', () => {
  it('slices a request across 3 servers and reassembles pulls in key order', async () => {
    const { workers, handlers } = await cluster(3, 1);
    const w = workers[0]!.worker;
    const keys = spread(900);
    const vals = Float32Array.from({ length: 1800 }, (_, i) => i);
    await w.wait(w.push({ keys, vals }));
    const got = await w.wait(w.pull(keys));
    expect(Array.from(got.vals)).toEqual(Array.from(vals));
    // Even key ranges: each of the 3 servers holds exactly a third of the evenly spread keys.
    const sizes = handlers.map((h) => h.table.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(900);
    for (const n of sizes) expect(Math.abs(n - 300)).toBeLessThanOrEqual(1);
    const pp = await w.wait(w.pushPull({ keys, vals }));
    expect(pp.vals[1799]).toBe(2 * 1799);
  });

  it('keeps tables apart by app id, with their own dtypes', async () => {
    const { workers } = await cluster(2, 1);
    const [t0, t1] = workers[0]!.workers as [KVWorker, KVWorker];
    const keys = spread(10);
    await t0.wait(t0.push({ keys, vals: new Float32Array(10).fill(1) }));
    await t1.wait(t1.push({ keys, vals: new Float64Array(10).fill(0.1) }));
    await t1.wait(t1.push({ keys, vals: new Float64Array(10).fill(0.2) }));
    const a = await t0.wait(t0.pull(keys));
    const b = await t1.wait(t1.pull(keys));
    expect(a.vals).toBeInstanceOf(Float32Array);
    expect(b.vals).toBeInstanceOf(Float64Array);
    expect([...a.vals]).toEqual(new Array(10).fill(1));
    expect(b.vals[0]).toBe(0.1 + 0.2);
  });

  it('reads keys nobody pushed as zero, and an empty request completes at once', async () => {
    const { workers } = await cluster(2, 1);
    const w = workers[0]!.worker;
    const got = await w.wait(w.pull(spread(4)));
    expect([...got.vals]).toEqual([0, 0, 0, 0]);
    const none = await w.wait(w.pull(new BigUint64Array(0)));
    expect(none.vals.length).toBe(0);
  });

  it('throws invalid input synchronously and passes server errors to wait()', async () => {
    const { workers } = await cluster(1, 1);
    const w = workers[0]!.worker;
    expect(() => w.push({ keys: new BigUint64Array([2n, 1n]), vals: new Float32Array(2) })).toThrow(
      /PS_ERR_KEYS_UNSORTED/,
    );
    expect(() => w.pull(new BigUint64Array([1n, 1n]))).toThrow(/PS_ERR_KEYS_DUPLICATE/);
    const keys = new BigUint64Array([1n, 2n]);
    await w.wait(w.push({ keys, vals: new Float32Array(2) }));
    const err = await w.wait(w.push({ keys, vals: new Float32Array(4) })).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.LENS_CONFLICT)).toBe(true);
    await expect(w.wait(12345)).rejects.toThrow(/PS_ERR_UNKNOWN_TIMESTAMP/);
  });

  it('answers a request for an app without a handler with PS_ERR_UNKNOWN_APP', async () => {
    const scheduler = await Scheduler.start({
      transport: tcp(),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const [s, w] = await Promise.all([
      createServer({ transport: tcp(), scheduler: at, logger: quiet, handler: sumHandler() }),
      createWorker({ transport: tcp(), scheduler: at, logger: quiet, apps: [7] }),
    ]);
    closers.push(
      () => s.node.close(),
      () => w.node.close(),
    );
    const err = await w.worker.wait(w.worker.pull(new BigUint64Array([1n]))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.UNKNOWN_APP)).toBe(true);
  });

  it('offers Observable forms that emit the pulled values', async () => {
    const { workers } = await cluster(2, 1);
    const w = workers[0]!.worker;
    const keys = spread(6);
    await firstValueFrom(w.push$({ keys, vals: new Float32Array(6).fill(2) }), { defaultValue: undefined });
    const got = await firstValueFrom(w.pull$(keys));
    expect([...got.vals]).toEqual(new Array(6).fill(2));
  });

  it('runs barriers across workers and shuts every node down when all workers finalize', async () => {
    const { workers, servers, scheduler } = await cluster(2, 3);
    const order: string[] = [];
    await Promise.all(
      workers.map(async ({ node }, i) => {
        await new Promise((r) => setTimeout(r, 30 * i));
        order.push(`arrive${i}`);
        await node.barrier('workers');
        order.push(`leave${i}`);
      }),
    );
    expect(order.slice(0, 3).every((e) => e.startsWith('arrive'))).toBe(true);
    await Promise.all(workers.map(({ node }) => node.finalize()));
    await Promise.all(servers.map(({ node }) => node.terminated));
    await scheduler.terminated;
    expect(servers.every(({ node }) => node.terminationError === undefined)).toBe(true);
  });

  it('refuses a node beyond the configured count with PS_ERR_CLUSTER_FULL', async () => {
    const { at } = await cluster(1, 1);
    const err = await createWorker({ transport: tcp(), scheduler: at, logger: quiet }).catch(
      (e: unknown) => e,
    );
    expect(isPsError(err, PsErrorCode.CLUSTER_FULL)).toBe(true);
  });

  it('declares a silent server dead and fails requests waiting on it with PS_ERR_NODE_DEAD', async () => {
    const { workers, servers } = await cluster(2, 1, { heartbeatTimeoutMs: 600 });
    const w = workers[0]!.worker;
    const victim: PsNode = servers[1]!.node;
    // Stop the victim's heartbeats and answers without a goodbye: close its transport only.
    await (victim as unknown as { ep: { transport: { close(): Promise<void> } } }).ep.transport.close();
    const err = await w.wait(w.pull(spread(8))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.NODE_DEAD)).toBe(true);
    const view = workers[0]!.node.cluster$.value!;
    expect(view.dead).toContain(victim.id);
    // A request issued once the server is known dead fails at once, not after a reconnect window.
    const t0 = Date.now();
    const again = await w.wait(w.pull(spread(8))).catch((e: unknown) => e);
    expect(isPsError(again, PsErrorCode.NODE_DEAD)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('rejects wait() with PS_ERR_FRAME_TOO_LARGE when the answer cannot fit in a frame', async () => {
    const scheduler = await Scheduler.start({
      transport: tcp(),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const [s, w] = await Promise.all([
      createServer({
        transport: tcp(),
        scheduler: at,
        logger: quiet,
        handler: sumHandler(),
        maxFrameBytes: 20_000,
      }),
      createWorker({ transport: tcp(), scheduler: at, logger: quiet }),
    ]);
    closers.push(
      () => s.node.close(),
      () => w.node.close(),
    );
    const keys = BigUint64Array.from({ length: 1000 }, (_, i) => BigInt(i));
    for (let i = 0; i < 1000; i += 100) {
      await w.worker.wait(
        w.worker.push({ keys: keys.subarray(i, i + 100), vals: new Float32Array(500).fill(1) }),
      );
    }
    // 1,000 keys x 5 float32 = 20,000 bytes of values: the answer exceeds the server's 20,000-byte frames.
    const err = await w.worker.wait(w.worker.pull(keys)).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    const ok = await w.worker.wait(w.worker.pull(keys.subarray(0, 10)));
    expect([...ok.vals]).toEqual(new Array(50).fill(1));
  });
});
