// A server's updated-keys stream across OS processes over TCP on 127.0.0.1: 1 scheduler, 2
// servers (each range on a master and 1 replica), 1 worker. Each server subscribes to its
// updates$ before it joins; the worker pushes 20 rounds over 2,000 keys. Every pushed key must
// appear in the batches of exactly one server (its master), each batch sorted and within
// maxKeys, and the last value a key's batches carry must be its final sum. The processes run
// the built packages (`npm run build` first).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/updates-node.mjs', import.meta.url));

afterEach(killAll);

type Batch = { event: 'batch'; keys: string[]; vals: number[] };

describe('KVServer.updates$ across processes over TCP', () => {
  it('names every pushed key in some batch of its master, with its final value', async () => {
    const common = {
      PS_NUM_SERVERS: '2',
      PS_NUM_WORKERS: '1',
      UPD_ROUNDS: '20',
      UPD_KEYS: '2000',
      UPD_MAX_KEYS: '700',
      UPD_INTERVAL_MS: '5',
      UPD_REPLICAS: '1',
    };
    const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
    const listening = await scheduler.waitFor<{ port: number; clusterNext: string }>(
      (o) => (o as { event?: string }).event === 'listening',
    );
    expect(listening.clusterNext).toBe('undefined');
    const env = { ...common, PS_SCHEDULER: `127.0.0.1:${listening.port}` };
    const servers = [0, 1].map(() => spawnNode(script, { ...env, PS_ROLE: 'server' }));
    const worker = spawnNode(script, { ...env, PS_ROLE: 'worker' });
    const all = [scheduler, ...servers, worker];

    for (const s of servers) {
      const l = await s.waitFor<{ clusterNext: string; ringNext: string; ringVersion: number }>(
        (o) => (o as { event?: string }).event === 'listening',
      );
      expect([l.clusterNext, l.ringNext, typeof l.ringVersion]).toEqual(['undefined', 'undefined', 'number']);
    }
    const pushed = await worker.waitFor<{ keys: string[]; vals: number[] }>(
      (o) => (o as { event?: string }).event === 'pushed',
      120_000,
    );
    expect(await Promise.all(all.map((p) => exitCode(p, 60_000)))).toEqual([0, 0, 0, 0]);

    // Every batch line was printed before its server exited: read them all now.
    const perServer = servers.map((s) =>
      s.lines.map((l) => JSON.parse(l) as { event: string }).filter((o): o is Batch => o.event === 'batch'),
    );
    const last = new Map<string, number>();
    const seenOn = perServer.map(() => new Set<string>());
    perServer.forEach((batches, s) => {
      expect(batches.length).toBeGreaterThan(0);
      for (const b of batches) {
        expect(b.keys.length).toBeGreaterThan(0);
        expect(b.keys.length).toBeLessThanOrEqual(700);
        expect(b.vals.length).toBe(b.keys.length);
        for (let i = 1; i < b.keys.length; i++)
          expect(BigInt(b.keys[i]!) > BigInt(b.keys[i - 1]!)).toBe(true);
        b.keys.forEach((k, i) => {
          seenOn[s]!.add(k);
          last.set(k, b.vals[i]!);
        });
      }
    });
    // The exact set: each pushed key on one server only (replicas do not report), none other.
    const union = [...seenOn[0]!, ...seenOn[1]!];
    expect(union.length).toBe(2000);
    expect(new Set(union)).toEqual(new Set(pushed.keys));
    expect(seenOn[0]!.size).toBeGreaterThan(0);
    expect(seenOn[1]!.size).toBeGreaterThan(0);
    // The last batch naming a key was cut after its last update: it carries the final sum.
    const wrong = pushed.keys.filter((k, i) => last.get(k) !== pushed.vals[i]);
    expect(wrong).toEqual([]);

    // replication$: each server holds every range (2 servers, 1 replica), chains of 2, nothing
    // left unacknowledged once the worker's pushes were all answered.
    for (const s of servers) {
      const r = await s.waitFor<{ ranges: number; masters: number; chains: number[]; lag: number }>(
        (o) => (o as { event?: string }).event === 'replication',
      );
      expect(r.chains).toEqual([2]);
      expect(r.masters).toBeGreaterThan(0);
      expect(r.masters).toBeLessThan(r.ranges);
      expect(r.lag).toBe(0);
    }
  });
});
