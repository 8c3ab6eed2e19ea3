// Durability: servers snapshot their tables to disk (atomically); a new cluster, with other
// server ids and so another ring, restarts from those snapshots and serves the same values.
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adagradHandler, createServer, createWorker, isPsError, PsErrorCode, Scheduler } from '@ps/core';
import { restoreServer, snapshotServer } from '@ps/core/node';
import { tcp } from '@ps/transport-tcp';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function cluster(
  dir: string | undefined,
  restore: { run?: string; errors?: unknown[]; loaded?: Map<number, number> } = {},
  shape: { servers?: number; replicas?: number } = {},
) {
  const numServers = shape.servers ?? 2;
  const scheduler = await Scheduler.start({
    transport: tcp(),
    numServers,
    numWorkers: 1,
    logger: quiet,
    ...(shape.replicas === undefined ? {} : { replicas: shape.replicas }),
  });
  closers.push(() => scheduler.shutdown());
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const opts = { transport: tcp(), scheduler: at, logger: quiet };
  const servers = Array.from({ length: numServers }, (_, i) =>
    createServer({
      ...opts,
      transport: tcp(),
      handler: adagradHandler({ lr: 0.5 }),
      ...(dir
        ? {
            beforeStart: async ([s]) => {
              const run = {
                ...(restore.run === undefined ? {} : { run: restore.run }),
                onLoaded: (n: number) => restore.loaded?.set(i, n),
              };
              if (!restore.errors) await restoreServer(s!, dir, run);
              else await restoreServer(s!, dir, run).catch((e: unknown) => restore.errors!.push(e));
            },
          }
        : {}),
    }),
  );
  const worker = createWorker({ ...opts, transport: tcp() });
  const s = await Promise.all(servers);
  const w = await worker;
  for (const x of [...s, w]) closers.push(() => x.node.close());
  return { servers: s, worker: w.worker, run: w.node.view.run, view: w.node.view };
}

describe('snapshots', () => {
  it('a cluster restarts from its servers’ snapshots with the same values and optimizer state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ps-snap-'));
    try {
      const keys = BigUint64Array.from({ length: 500 }, (_, i) => BigInt(i) * 36893488147419103n + 11n);
      const grad = Float32Array.from({ length: 500 }, (_, i) => (i % 7) - 3);
      const first = await cluster(undefined);
      const w = first.worker;
      for (let r = 0; r < 3; r++) await w.wait(w.push({ keys, vals: grad }));
      const before = await w.wait(w.pull(keys));
      const paths = await Promise.all(first.servers.map(({ servers: [s] }) => snapshotServer(s!, dir)));
      expect((await readdir(dir)).sort()).toEqual(paths.map((p) => p.slice(dir.length + 1)).sort());
      await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));

      const second = await cluster(dir);
      const after = await second.worker.wait(second.worker.pull(keys));
      expect([...after.vals]).toEqual([...before.vals]);
      // AdaGrad's accumulators came back too: one more push moves the weights as it would have.
      await second.worker.wait(second.worker.push({ keys, vals: grad }));
      const next = await second.worker.wait(second.worker.pull(keys));
      const h = 3 * 1 * 1 + 1; // key 4: gradient 1 pushed 3 times, then once more
      expect(next.vals[4]).toBeCloseTo(before.vals[4]! - 0.5 / Math.sqrt(h), 5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('restores one run: the newest set of two in one directory exactly, a named older one, never an incomplete one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ps-snap-'));
    try {
      const keys = BigUint64Array.from({ length: 400 }, (_, i) => BigInt(i) * 46116860184273879n + 5n);
      /** Runs a cluster that pushes `g` twice, snapshots every server, and closes. */
      const runOnce = async (g: number) => {
        const c = await cluster(undefined);
        const vals = new Float32Array(keys.length).fill(g);
        for (let r = 0; r < 2; r++) await c.worker.wait(c.worker.push({ keys, vals }));
        const model = await c.worker.wait(c.worker.pull(keys));
        const paths = await Promise.all(c.servers.map(({ servers: [s] }) => snapshotServer(s!, dir)));
        await Promise.all(closers.splice(0).map((x) => x().catch(() => undefined)));
        return { run: c.run, model: [...model.vals], paths };
      };
      const older = await runOnce(1);
      const newer = await runOnce(-2);
      expect(newer.run).not.toBe(older.run);
      expect(newer.model).not.toEqual(older.model);
      expect(await readdir(dir)).toHaveLength(4);

      const latest = await cluster(dir);
      expect([...(await latest.worker.wait(latest.worker.pull(keys))).vals]).toEqual(newer.model);
      await Promise.all(closers.splice(0).map((x) => x().catch(() => undefined)));

      const named = await cluster(dir, { run: older.run });
      expect([...(await named.worker.wait(named.worker.pull(keys))).vals]).toEqual(older.model);
      await Promise.all(closers.splice(0).map((x) => x().catch(() => undefined)));

      // One server's file of the newest set is gone: the restore refuses, naming the complete set.
      await unlink(newer.paths[1]!);
      const errors: unknown[] = [];
      const broken = await cluster(dir, { errors });
      expect(errors).toHaveLength(2);
      for (const e of errors) {
        expect(isPsError(e, PsErrorCode.SNAPSHOT)).toBe(true);
        expect((e as Error).message).toMatch(/lacks the file of server .*name a complete set's run/);
        expect((e as Error).message).toContain(older.run);
      }
      // Nothing was loaded: the keys read as zero.
      const empty = await broken.worker.wait(broken.worker.pull(keys));
      expect(empty.vals.every((v) => v === 0)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a set written by 2 servers restored onto 3: each server loads only the keys it holds on the new ring, every value exact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ps-snap-'));
    try {
      const keys = BigUint64Array.from({ length: 600 }, (_, i) => BigInt(i) * 30744573456182586n + 7n);
      const grad = Float32Array.from({ length: 600 }, (_, i) => (i % 11) - 5);
      const first = await cluster(undefined, {}, { servers: 2, replicas: 1 });
      for (let r = 0; r < 2; r++) await first.worker.wait(first.worker.push({ keys, vals: grad }));
      const before = [...(await first.worker.wait(first.worker.pull(keys))).vals];
      // With 2 servers and 1 replica each file holds every key.
      await Promise.all(first.servers.map(({ servers: [s] }) => snapshotServer(s!, dir)));
      await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));

      const loaded = new Map<number, number>();
      const second = await cluster(dir, { loaded }, { servers: 3, replicas: 1 });
      const { ring, replicas } = second.view;
      expect(replicas).toBe(1);
      let total = 0;
      second.servers.forEach(({ node, servers: [s] }, i) => {
        // Exactly the keys whose range this server masters or replicates on the new ring.
        const held = [...keys].filter((k) => ring.replicasOf(ring.rangeOf(k), replicas).includes(node.id));
        const stored = [...s!.table!.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(stored).toEqual(held);
        expect(loaded.get(i)).toBe(held.length);
        expect(held.length).toBeLessThan(keys.length); // not the whole set
        total += held.length;
      });
      expect(total).toBe(2 * keys.length); // each key on its master and its one replica
      const after = await second.worker.wait(second.worker.pull(keys));
      expect([...after.vals]).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
