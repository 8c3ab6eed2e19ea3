// Starting a cluster over real TCP on 127.0.0.1: a cluster that does not fill names the missing
// roles, and createServer / createWorker resolve to the same shape.
import { createServer, createWorker, isPsError, PsErrorCode, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

const HINT =
  'start every role before awaiting any (createServer and createWorker resolve only once the cluster is full, so await them together, e.g. Promise.all)';

async function scheduler(numServers: number, numWorkers: number) {
  const s = await Scheduler.start({ transport: tcp(), numServers, numWorkers, logger: quiet });
  closers.push(() => s.shutdown());
  return { host: '127.0.0.1', port: s.address.port };
}

describe('a cluster that does not fill', () => {
  it('names the missing workers when a server is awaited alone (the deadlock of awaiting one role first)', async () => {
    const at = await scheduler(1, 1);
    const t0 = performance.now();
    const err = await createServer({
      transport: tcp(),
      scheduler: at,
      logger: quiet,
      handler: sumHandler(),
      startTimeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.TIMEOUT)).toBe(true);
    expect((err as Error).message).toBe(
      `PS_ERR_TIMEOUT: the cluster did not fill within 2000 ms: 1 of 1 workers missing (servers 1/1 registered); ${HINT}`,
    );
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_990);
  });

  it('names every role still missing, with counts', async () => {
    const at = await scheduler(2, 2);
    const err = await createWorker({
      transport: tcp(),
      scheduler: at,
      logger: quiet,
      startTimeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `PS_ERR_TIMEOUT: the cluster did not fill within 2000 ms: 2 of 2 servers and 1 of 2 workers missing; ${HINT}`,
    );
    expect((err as { details?: unknown }).details).toEqual({
      timeoutMs: 2_000,
      servers: 0,
      numServers: 2,
      workers: 1,
      numWorkers: 2,
    });
  });
});

describe('createServer and createWorker', () => {
  it('resolve to the same shape: node, the first app, every app; pulled values have the declared dtype', async () => {
    const at = await scheduler(1, 1);
    const [s, w] = await Promise.all([
      createServer({
        transport: tcp(),
        scheduler: at,
        logger: quiet,
        handler: { 0: sumHandler({ dtype: 'float64' }), 3: sumHandler() },
      }),
      createWorker({ transport: tcp(), scheduler: at, logger: quiet, apps: [0], dtype: 'float64' }),
    ]);
    closers.push(
      () => w.node.close(),
      () => s.node.close(),
    );
    expect(Object.keys(s).sort()).toEqual(['node', 'server', 'servers']);
    expect(Object.keys(w).sort()).toEqual(['node', 'worker', 'workers']);
    expect(s.server).toBe(s.servers[0]);
    expect(s.servers.map((x) => x.app)).toEqual([0, 3]);
    expect(w.worker).toBe(w.workers[0]);
    const keys = BigUint64Array.of(2n, 9n);
    await w.worker.wait(w.worker.push({ keys, vals: Float64Array.of(0.1, 1e-300) }));
    const { vals } = await w.worker.wait(w.worker.pull(keys));
    const typed: Float64Array = vals; // no cast: the worker was created with dtype 'float64'
    expect(typed).toBeInstanceOf(Float64Array);
    expect(Array.from(typed)).toEqual([0.1, 1e-300]);
  });
});
