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
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function cluster(
  numServers: number,
  numWorkers: number,
  opts: { heartbeatTimeoutMs?: number; replicas?: number } = {},
) {
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
    const { workers, handlers, servers } = await cluster(3, 1, { replicas: 1 });
    const w = workers[0]!.worker;
    const keys = spread(900);
    const vals = Float32Array.from({ length: 1800 }, (_, i) => i);
    await w.wait(w.push({ keys, vals }));
    const got = await w.wait(w.pull(keys));
    expect(Array.from(got.vals)).toEqual(Array.from(vals));
    // Every key lives on its master and its one replica (replicas: 1): the
    // servers the ring names, and no other.
    const view = workers[0]!.node.view;
    expect(view.replicas).toBe(1);
    const sizes = handlers.map((h) => h.table.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1800);
    for (let i = 0; i < keys.length; i += 37) {
      const chain = view.ring.replicasOf(keys[i]!, 1);
      const holders = servers
        .filter((_, s) => handlers[s]!.table.lookup(keys.subarray(i, i + 1), false)[0]! >= 0)
        .map((x) => x.node.id);
      expect(holders.sort()).toEqual([...chain].sort());
    }
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

  it('refuses a node beyond the configured count with PS_ERR_CLUSTER_FULL before the cluster starts', async () => {
    const scheduler = await Scheduler.start({
      transport: tcp(),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const first = createServer({ transport: tcp(), scheduler: at, logger: quiet, handler: sumHandler() });
    first.catch(() => undefined);
    // Let the first registration land before the second.
    for (
      let i = 0;
      i < 100 && (scheduler as unknown as { members: Map<string, unknown> }).members.size < 1;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const err = await createServer({
      transport: tcp(),
      scheduler: at,
      logger: quiet,
      handler: sumHandler(),
    }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CLUSTER_FULL)).toBe(true);
    const w = await createWorker({ transport: tcp(), scheduler: at, logger: quiet });
    closers.push(() => w.node.close());
    const s = await first;
    closers.push(() => s.node.close());
  });

  it('lets a worker join a running cluster', async () => {
    const { at, workers } = await cluster(1, 1);
    const late = await createWorker({ transport: tcp(), scheduler: at, logger: quiet });
    closers.push(() => late.node.close());
    expect(late.node.rank).toBe(1);
    const keys = spread(4);
    await late.worker.wait(late.worker.push({ keys, vals: Float32Array.of(1, 2, 3, 4) }));
    const got = await workers[0]!.worker.wait(workers[0]!.worker.pull(keys));
    expect([...got.vals]).toEqual([1, 2, 3, 4]);
  });

  it('declares a silent server dead and fails over to its replica without losing a push', async () => {
    const { workers, servers } = await cluster(2, 1, { heartbeatTimeoutMs: 600, replicas: 1 });
    const w = workers[0]!.worker;
    const keys = spread(8);
    await w.wait(w.push({ keys, vals: new Float32Array(8).fill(1) }));
    const victim: PsNode = servers[1]!.node;
    // Stop the victim's heartbeats and answers without a goodbye: close its transport only.
    await (victim as unknown as { ep: { transport: { close(): Promise<void> } } }).ep.transport.close();
    // Sent to the dead server, then resent to the survivor once the new ring arrives.
    const ts = w.push({ keys, vals: new Float32Array(8).fill(2) });
    await w.wait(ts);
    const view = workers[0]!.node.currentView!;
    expect(view.dead).toContain(victim.id);
    expect(view.ring.servers).toEqual([servers[0]!.node.id]);
    const got = await w.wait(w.pull(keys));
    expect([...got.vals]).toEqual(new Array(8).fill(3));
  });

  it('fails a request with PS_ERR_NODE_DEAD when the last server died', async () => {
    const { workers, servers } = await cluster(1, 1, { heartbeatTimeoutMs: 600 });
    const w = workers[0]!.worker;
    await (
      servers[0]!.node as unknown as { ep: { transport: { close(): Promise<void> } } }
    ).ep.transport.close();
    for (let i = 0; i < 200 && !workers[0]!.node.view.dead.length; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(workers[0]!.node.view.dead).toContain(servers[0]!.node.id);
    const err = await w.wait(w.pull(spread(8))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.NODE_DEAD)).toBe(true);
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
