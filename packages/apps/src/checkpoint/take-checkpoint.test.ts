import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adagradHandler, createServer, createWorker, Scheduler } from '@ps/core';
import { readSnapshot } from '@ps/core/node';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { describe, expect, it } from 'vitest';
import { checkpointDataName, latestCheckpoint } from './checkpoint-manifest.js';
import { serveCheckpointTasks } from './serve-checkpoint-tasks.js';
import { takeCheckpoint } from './take-checkpoint.js';
import { WorkerCheckpointHold } from './worker-checkpoint-hold.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('takeCheckpoint', () => {
  it('holds every worker at one batch, with its pushes acknowledged, copies the tables there, and lets training go on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ps-ckpt-take-'));
    const hub = new InprocHub();
    const mem = () => ({ transport: inproc({ hub }), host: 'mem', logger: quiet });
    const s = await Scheduler.start({ ...mem(), numServers: 1, numWorkers: 2 });
    const scheduler = { host: 'mem', port: s.address.port };
    try {
      const [server, ...workers] = await Promise.all([
        createServer({ ...mem(), scheduler, handler: adagradHandler({ lr: 0.5 }) }),
        createWorker({ ...mem(), scheduler }),
        createWorker({ ...mem(), scheduler }),
      ]);
      serveCheckpointTasks(server.node, server.servers[0]!, dir);
      const total = 400;
      const key = BigUint64Array.of(7n);
      // Each worker's loop: one push of 1 per batch, not awaited (as the training loop), and a
      // hold before each batch. `pushed` counts the pushes each issued.
      const pushed = [0, 0];
      const atCut: number[][] = [];
      const loops = workers.map(async ({ node, worker }, i) => {
        const hold = new WorkerCheckpointHold(node, 0, total);
        const pushes: ReturnType<typeof worker.push>[] = [];
        for (let b = 0; b < total; b++) {
          await hold.at(b, async () => {
            await Promise.all(pushes.map((t) => worker.wait(t)));
            atCut.push([i, b, pushed[i]!]);
          });
          pushes.push(worker.push({ keys: key, vals: Float32Array.of(1) }));
          pushed[i]!++;
          await new Promise((r) => setImmediate(r));
        }
        await Promise.all(pushes.map((t) => worker.wait(t)));
        hold.finished();
      });
      // Once both loops are under way (bounded: 10,000 turns of the event loop).
      for (let i = 0; i < 10_000 && Math.min(...pushed) < 20; i++) await new Promise((r) => setImmediate(r));
      const m = await takeCheckpoint(s, dir, 1);
      expect(m).toBeDefined();
      // Both workers stood before the same batch, the cut, with exactly that many pushes issued.
      expect(m!.positions).toEqual({ '0': m!.batch, '1': m!.batch });
      expect(atCut.filter(([, b]) => b === m!.batch).map(([, , n]) => n)).toEqual([m!.batch, m!.batch]);
      expect(m!.batch).toBeLessThan(total);
      expect(m!.files).toHaveLength(1);
      expect(await readdir(join(dir, checkpointDataName(1)))).toEqual(m!.files);
      expect((await latestCheckpoint(dir))?.manifest).toEqual(m);
      // The table at the cut holds exactly the pushes before it: AdaGrad's sum of squared
      // gradients of the key is 2 workers × batch pushes of 1.
      const { data } = await readSnapshot(join(dir, checkpointDataName(1), m!.files[0]!));
      expect([...data.keys]).toEqual([7n]);
      expect(data.slabs.map((slab) => slab[0])).toContain(2 * m!.batch);
      await Promise.all(loops);
      // Training went on to the end after the resume: every push of both workers was applied.
      expect(pushed).toEqual([total, total]);
      for (const w of workers) await w.node.close();
      await server.node.close();
    } finally {
      await s.shutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
