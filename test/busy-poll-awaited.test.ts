// A worker tells its process's busy poller how many requests it awaits (issued, not finished),
// so that the poller spins only while at most one is: over real TCP on 127.0.0.1, the count rises
// with every request issued and falls back when each finishes, answered or failed.
import { BusyPoll, createServer, createWorker, PsError, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function cluster() {
  const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1, logger: quiet });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const [s, w] = await Promise.all([
    createServer({ transport: tcp(), scheduler: at, logger: quiet, handler: sumHandler() }),
    createWorker({ transport: tcp(), scheduler: at, logger: quiet, dtype: 'float32' }),
  ]);
  closers.push(
    () => w.node.close(),
    () => s.node.close(),
    () => scheduler.shutdown(),
  );
  return w;
}

describe('requests awaited by the busy poller', () => {
  it('counts every request from issue to finish, and a loop of 8 in flight leaves it where it was', async () => {
    const { worker } = await cluster();
    const base = BusyPoll.shared.awaitedRequests;
    const keys = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i));
    const kv = { keys, vals: new Float32Array(100).fill(1) };
    const ts = [worker.push(kv), worker.push(kv), worker.pushPull(kv)];
    expect(BusyPoll.shared.awaitedRequests).toBe(base + 3);
    const answer = (await Promise.all(ts.map((t) => worker.wait(t))))[2] as { vals: Float32Array };
    expect(Array.from(answer.vals.subarray(0, 3))).toEqual([3, 3, 3]);
    expect(BusyPoll.shared.awaitedRequests).toBe(base);
    // 8 lanes, 50 requests each: the count never passes 8 above the base, and ends at it.
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 50; i++) {
          const t = worker.pull(keys);
          most = Math.max(most, BusyPoll.shared.awaitedRequests - base);
          await worker.wait(t);
        }
      }),
    );
    expect(most).toBe(8);
    expect(BusyPoll.shared.awaitedRequests).toBe(base);
    const pulled = (await worker.wait(worker.pull(keys))) as { vals: Float32Array };
    expect(pulled.vals[99]).toBe(3);
  });

  it('counts a request that fails as finished: a worker closed with requests outstanding', async () => {
    const { node, worker } = await cluster();
    const base = BusyPoll.shared.awaitedRequests;
    const keys = BigUint64Array.of(1n, 2n);
    const ts = [worker.pull(keys), worker.pull(keys)];
    expect(BusyPoll.shared.awaitedRequests).toBe(base + 2);
    const outcomes = ts.map((t) =>
      worker.wait(t).then(
        () => 'answered',
        (err: unknown) => err,
      ),
    );
    await node.close();
    for (const o of await Promise.all(outcomes)) {
      // Either the answer beat the close, or the request failed with a PsError.
      if (o !== 'answered') expect(o).toBeInstanceOf(PsError);
    }
    expect(BusyPoll.shared.awaitedRequests).toBe(base);
  });
});
