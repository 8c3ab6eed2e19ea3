// Sync mode refuses what it cannot aggregate, with PS_ERR_SYNC or PS_ERR_SYNC_BACKLOG and a
// message that says what to do (an in-process cluster: the refusals do not depend on the wire).
import { createServer, createWorker, isPsError, PsErrorCode, Scheduler, sumHandler } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function cluster(opts: { sync: boolean; workers: number; maxOpenIterations?: number }) {
  const hub = new InprocHub();
  const scheduler = await Scheduler.start({
    transport: inproc({ hub }),
    numServers: 1,
    numWorkers: opts.workers,
    logger: quiet,
    ...(opts.sync ? { sync: true } : {}),
  });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const [s, ...ws] = await Promise.all([
    createServer({
      transport: inproc({ hub }),
      scheduler: at,
      logger: quiet,
      handler: sumHandler(),
      ...(opts.maxOpenIterations ? { sync: { maxOpenIterations: opts.maxOpenIterations } } : {}),
    }),
    ...Array.from({ length: opts.workers }, () =>
      createWorker({ transport: inproc({ hub }), scheduler: at, logger: quiet }),
    ),
  ]);
  closers.push(
    ...ws.map((w) => () => w.node.close()),
    () => s.node.close(),
    () => scheduler.shutdown(),
  );
  return ws.map((w) => w.worker);
}

const kv = { keys: BigUint64Array.of(7n), vals: Float32Array.of(1) };

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('the request was not refused');
}

describe('sync mode refusals', () => {
  it('a server in sync mode refuses an untagged push and a pushPull, applying nothing', async () => {
    const [w] = await cluster({ sync: true, workers: 1 });
    const a = await refusal(w!.wait(w!.push(kv)));
    expect(isPsError(a, PsErrorCode.SYNC)).toBe(true);
    expect(a.message).toMatch(/iteration: t/);
    const b = await refusal(w!.wait(w!.pushPull(kv, { iteration: 0 })));
    expect(isPsError(b, PsErrorCode.SYNC)).toBe(true);
    expect(b.message).toMatch(/instead of pushPull/);
    expect([...(await w!.wait(w!.pull(kv.keys))).vals]).toEqual([0]);
    await w!.wait(w!.push(kv, { iteration: 0 }));
    expect([...(await w!.wait(w!.pull(kv.keys, { iteration: 1 }))).vals]).toEqual([1]);
  });

  it('a push with an iteration to an app not in sync mode is refused', async () => {
    const [w] = await cluster({ sync: false, workers: 1 });
    const e = await refusal(w!.wait(w!.push(kv, { iteration: 3 })));
    expect(isPsError(e, PsErrorCode.SYNC)).toBe(true);
    expect(e.message).toMatch(/Scheduler\.start\(\{ sync: true \}\)/);
    expect(() => w!.push(kv, { iteration: -1 })).toThrow(/non-negative integer/);
  });

  it('a worker too many iterations ahead is refused with PS_ERR_SYNC_BACKLOG; the cluster goes on', async () => {
    const [fast, slow] = await cluster({ sync: true, workers: 2, maxOpenIterations: 3 });
    const open = [0, 1, 2].map((t) => fast!.push(kv, { iteration: t }));
    const e = await refusal(fast!.wait(fast!.push(kv, { iteration: 3 })));
    expect(isPsError(e, PsErrorCode.SYNC_BACKLOG)).toBe(true);
    expect(e.message).toMatch(/maxOpenIterations/);
    for (const t of [0, 1, 2]) await slow!.wait(slow!.push(kv, { iteration: t }));
    for (const ts of open) await fast!.wait(ts);
    // 3 iterations of 2 workers' pushes of 1: the refused push added nothing.
    expect([...(await slow!.wait(slow!.pull(kv.keys, { iteration: 3 }))).vals]).toEqual([6]);
  });
});
