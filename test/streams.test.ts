// The read-only streams on a cluster in one process over real TCP on 127.0.0.1: ring$ across a
// server's join and leave, replication$ of a server holding replicas, and the pull form of the
// updated keys for a slow consumer. (The multi-process run is test/updates-stream.test.ts.)
import { createServer, createWorker, type Ring, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function cluster(numServers: number, replicas: number) {
  const scheduler = await Scheduler.start({
    transport: tcp(),
    numServers,
    numWorkers: 1,
    replicas,
    logger: quiet,
  });
  closers.push(() => scheduler.shutdown());
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const server = () =>
    createServer({ transport: tcp(), scheduler: at, logger: quiet, handler: sumHandler() });
  const servers = await Promise.all([
    ...Array.from({ length: numServers }, server),
    createWorker({ transport: tcp(), scheduler: at, logger: quiet }),
  ]);
  const w = servers.pop() as Awaited<ReturnType<typeof createWorker>>;
  const s = servers as Awaited<ReturnType<typeof createServer>>[];
  for (const x of [...s, w]) closers.push(() => x.node.close());
  return { scheduler, servers: s, worker: w, server };
}

const spread = (n: number) => BigUint64Array.from({ length: n }, (_, i) => (BigInt(i) << 54n) + 11n);

describe('read-only streams over TCP', () => {
  it('ring$ emits each ring version once across a join and a leave; cluster$ has no next()', async () => {
    const c = await cluster(2, 1);
    const node = c.worker.node;
    expect('next' in node.cluster$).toBe(false);
    expect('next' in node.ring$).toBe(false);
    expect('next' in c.scheduler.cluster$).toBe(false);
    const rings = node.ring$.pipe(take(3), toArray(), timeout(60_000));
    const seen = firstValueFrom(rings);
    let views = 0;
    const sub = node.cluster$.subscribe(() => views++);
    const extra = await c.server();
    await firstValueFrom(
      node.ring$.pipe(
        filter((r: Ring) => r.has(extra.node.id)),
        timeout(60_000),
      ),
    );
    await extra.node.leave();
    const got = await seen;
    sub.unsubscribe();
    expect(got.map((r) => r.version)).toEqual([got[0]!.version, got[0]!.version + 1, got[0]!.version + 2]);
    expect(got.map((r) => r.size)).toEqual([2, 3, 2]);
    // The join alone publishes a view before its ring (the newcomer listed, not yet on the ring).
    expect(views).toBeGreaterThan(3);
    expect(node.currentView?.ring.version).toBe(got[2]!.version);
  });

  it('replication$ lists every range a server holds with its chain, and settles at lag 0', async () => {
    const c = await cluster(2, 1);
    const [s0] = c.servers;
    const { worker } = c.worker;
    const keys = spread(1000);
    const vals = new Float32Array(1000).fill(2);
    for (let r = 0; r < 10; r++) await worker.wait(worker.push({ keys, vals }));
    // Every push was acknowledged (so replicated): the current state has no lag left.
    const st = await firstValueFrom(s0!.server.replication$.pipe(timeout(10_000)));
    const ring = c.worker.node.view.ring;
    expect(st.server).toBe(s0!.node.id);
    expect(st.ring).toBe(ring.version);
    expect(st.replicas).toBe(1);
    // Two servers, one replica: s0 holds every range, masters its own and replicates the rest.
    expect(st.ranges.length).toBe(ring.ranges().length);
    expect(st.ranges.filter((r) => r.role === 'master').length).toBe(
      ring.ranges().filter((r) => r.owner === s0!.node.id).length,
    );
    for (const r of st.ranges) {
      expect(r.chain).toEqual(ring.replicasOf(r.begin, 1));
      expect(r.lag).toBe(0);
    }
  });

  it('subscribeUpdates coalesces the keys pushed while its consumer is busy, and updates$ checks its options', async () => {
    const c = await cluster(1, 0);
    const kv = c.servers[0]!.server;
    const { worker } = c.worker;
    expect(() => kv.updates$({ maxKeys: 0 })).toThrow(expect.objectContaining({ code: 'PS_ERR_CONFIG' }));
    const sub = kv.subscribeUpdates({ maxKeys: 10_000, intervalMs: 0 });
    const keys = spread(500);
    const vals = new Float32Array(500).fill(1);
    // 40 pushes of the same 500 keys (20,000 updates) while the consumer does not ask.
    for (let r = 0; r < 40; r++) await worker.wait(worker.push({ keys, vals }));
    expect(sub.heldKeys).toBeLessThanOrEqual(500 + 10_000);
    const batch = await sub.next();
    expect(Array.from(batch.value!.keys)).toEqual(Array.from(keys));
    expect(sub.heldKeys).toBe(0);
    sub.close();
    expect((await sub.next()).done).toBe(true);
  });
});
