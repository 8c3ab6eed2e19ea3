// Reuse of large frame buffers (largeBufferPool) end to end: two server processes over real TCP
// on 127.0.0.1 and a worker in this process, many large pushPulls and pulls with and without
// `into`, interleaved. Every answer must be the exact sum, and every answer the worker handed
// out as a view of its frame (no `into`, one server) must stay as it was received while later
// frames reuse the pool: a buffer given back too early would be written over.
// Run after `npm run build` (the servers run the built packages).
import { fileURLToPath } from 'node:url';
import { createWorker, largeBufferPool, Scheduler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';
import { killAll, spawnNode } from './helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/kv-node.mjs', import.meta.url));
const closers = closeAfterEach();
afterEach(killAll);

/** First index where `got` differs from `want`, or -1. */
function firstDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return i;
  return -1;
}

describe('large frame buffers reused across requests (TCP, 2 server processes)', () => {
  it('gives exact sums over many large pushPulls and pulls, with and without into, and never changes an answer handed out', async () => {
    // A generous heartbeat timeout: servers inserting a million new keys on a loaded 2-core
    // machine may miss the default 2 s, and a server declared dead loses its keys (no replicas).
    const scheduler = await Scheduler.start({
      transport: tcp(),
      numServers: 2,
      numWorkers: 1,
      heartbeatTimeoutMs: 60_000,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const env = {
      PS_NUM_SERVERS: '2',
      PS_NUM_WORKERS: '1',
      PS_SCHEDULER: `127.0.0.1:${scheduler.address.port}`,
    };
    const servers = [0, 1].map(() =>
      spawnNode(script, { ...env, PS_ROLE: 'server', KV_POOL_EVERY_MS: '50' }),
    );
    const { node, worker } = await createWorker({
      transport: tcp(),
      scheduler: { host: '127.0.0.1', port: scheduler.address.port },
      logger: quiet,
    });
    closers.push(() => node.close());
    await Promise.all(servers.map((s) => s.waitFor((o) => o.event === 'listening')));

    const n = 100_000; // 400 KB of float32 answers: frames far above the pool's 64 KiB
    // Spread: both servers answer a part (the worker joins two frames). Low: small keys, all
    // in one server's range (the answer is one frame, handed out as a view without `into`).
    const step = (1n << 64n) / BigInt(n);
    const lists = {
      spread: BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * step + (1n << 40n)),
      low: BigUint64Array.from({ length: n }, (_, i) => BigInt(i)),
    };
    const sums = { spread: new Float64Array(n), low: new Float64Array(n) };
    const into = new Float32Array(n);
    const kept: { vals: Float32Array; copy: Float32Array }[] = [];
    const before = largeBufferPool.stats;
    const rounds = 24;
    for (let r = 0; r < rounds; r++) {
      const which = r % 3 === 2 ? 'low' : r % 2 === 0 ? 'spread' : 'low';
      const keys = lists[which];
      const sum = sums[which];
      const withInto = r % 4 < 2;
      const pullOnly = r % 5 === 4;
      let got: { vals: Float32Array | Float64Array };
      if (pullOnly) {
        got = await worker.wait(worker.pull(keys, withInto ? { into } : undefined));
      } else {
        const vals = Float32Array.from({ length: n }, (_, i) => ((i * 31 + r * 7) % 17) - 8);
        for (let i = 0; i < n; i++) sum[i]! += vals[i]!;
        got = await worker.wait(worker.pushPull({ keys, vals }, withInto ? { into } : undefined));
      }
      if (withInto) expect(got.vals).toBe(into);
      expect(firstDiff(got.vals, sum)).toBe(-1);
      if (!withInto) kept.push({ vals: got.vals as Float32Array, copy: (got.vals as Float32Array).slice() });
      // Every answer handed out earlier is still exactly what it was.
      for (const k of kept) expect(firstDiff(k.vals, k.copy)).toBe(-1);
    }
    // Many pulls in flight of twin lists (answers of the same sizes on each server, other
    // values), megabytes each, so that a server's writes may queue behind the socket: an answer
    // buffer given back before its write completed could be written over by the next answer
    // while the kernel still reads it. (Whether a write queues depends on the kernel's buffers:
    // this checks the sums under reuse; the order "release after the send resolved" is in
    // KVServer.respond.)
    const big = 1_000_000;
    const bigStep = (1n << 63n) / BigInt(big);
    const bigLists = [0n, 1n].map((t) =>
      BigUint64Array.from({ length: big }, (_, i) => BigInt(i) * bigStep + (1n << 62n) + t),
    );
    const bigSums = [0, 1].map((t) => Float32Array.from({ length: big }, (_, i) => t * 1000 + (i % 29)));
    for (let t = 0; t < 2; t++) await worker.wait(worker.push({ keys: bigLists[t]!, vals: bigSums[t]! }));
    const inFlight = 8;
    const answers = await Promise.all(
      Array.from({ length: 2 * inFlight }, async (_, i) => {
        const t = i % 2;
        const mine = i % 4 < 2 ? new Float32Array(big) : undefined;
        const got = await worker.wait(worker.pull(bigLists[t]!, mine ? { into: mine } : undefined));
        return { want: bigSums[t]!, got: got.vals, mine };
      }),
    );
    for (const a of answers) {
      if (a.mine) expect(a.got).toBe(a.mine);
      expect(firstDiff(a.got, a.want)).toBe(-1);
    }
    for (const k of kept) expect(firstDiff(k.vals, k.copy)).toBe(-1);
    const after = largeBufferPool.stats;
    // The pool really served the answer frames: buffers were given back and taken again.
    expect(after.released - before.released).toBeGreaterThan(rounds / 2);
    expect(after.reused - before.reused).toBeGreaterThan(rounds / 2);
    expect(kept.length).toBe(12);
    // And each server gave its written answers back and reused them (one answer per request it served).
    for (const s of servers) {
      const line = await s.waitFor<{ event: string; stats: { released: number; reused: number } }>(
        (o) => o.event === 'pool' && o.stats.released >= 12 && o.stats.reused >= 4,
        10_000,
      );
      expect(line.stats.released).toBeGreaterThanOrEqual(12);
    }
  });
});
