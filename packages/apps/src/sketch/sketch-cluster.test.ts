import { consoleLogger, createServer, createWorker, Scheduler, seededRandom, sumHandler } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { describe, expect, it } from 'vitest';
import { CountMinSketch } from './count-min-sketch.js';
import { pushSketchCounts } from './push-sketch-counts.js';
import { querySketch } from './query-sketch.js';
import { runSketch } from './run-sketch.js';

describe('the sketch on a cluster (in this process, over inproc)', () => {
  it('workers pushing their shards in batches leave the servers with the counters of one local sketch', async () => {
    const hub = new InprocHub();
    const scheduler = await Scheduler.start({
      transport: inproc({ hub }),
      host: '127.0.0.1',
      port: 0,
      numServers: 3,
      numWorkers: 2,
      logger: consoleLogger('ps-scheduler', 'error'),
    });
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const tables = [0, 1, 2].map(() => sumHandler({ dtype: 'float64' }));
    const servers = tables.map((handler) =>
      createServer({ transport: inproc({ hub }), scheduler: at, host: '127.0.0.1', handler }),
    );
    const workers = await Promise.all(
      [0, 1].map(() => createWorker({ transport: inproc({ hub }), scheduler: at, host: '127.0.0.1' })),
    );
    const started = await Promise.all(servers);
    try {
      const sketch = new CountMinSketch({ epsilon: 0.01, delta: 0.01, seed: 3 });
      const rand = seededRandom(11);
      const stream = Uint32Array.from({ length: 30_000 }, () => Math.floor(rand() * 2_000) * 2_654_435_761);
      const local = new Float64Array(sketch.size);
      for (const x of stream) sketch.addTo(local, x);
      const halves = [stream.subarray(0, 17_000), stream.subarray(17_000)];
      const pushes = await Promise.all(
        workers.map(({ node, worker }) =>
          pushSketchCounts(worker, sketch, halves[node.rank]!, { batchItems: 4_096 }),
        ),
      );
      expect(pushes.sort()).toEqual([4, 5]);
      const items = Uint32Array.from(new Set(stream));
      const estimates = await querySketch(workers[1]!.worker, sketch, items);
      expect(Array.from(estimates)).toEqual(Array.from(items, (x) => sketch.estimateFrom(local, x)));
      // Every counter touched is held by exactly one server, and every server holds some.
      const touched = local.reduce((n, v) => n + (v > 0 ? 1 : 0), 0);
      expect(tables.reduce((n, t) => n + t.table.size, 0)).toBe(touched);
      for (const t of tables) expect(t.table.size).toBeGreaterThan(0);
    } finally {
      await Promise.all(workers.map(({ node }) => node.finalize()));
      await Promise.all([scheduler.terminated, ...started.map(({ node }) => node.terminated)]);
    }
  });

  it('runSketch counts every bigram once and finds the heavy hitters of a small corpus', async () => {
    // Bigram "w0 wk" occurs k + 1 times in all (k = 0..199): distinct counts, a known top.
    const texts: string[] = [];
    for (let k = 0; k < 200; k++) for (let j = 0; j <= k; j++) texts.push(`w0 w${k}`);
    const s = await runSketch({
      texts,
      epsilon: 0.01,
      delta: 0.01,
      servers: 2,
      workers: 3,
      top: 10,
      sample: 50,
    });
    expect(s.N).toBe((200 * 201) / 2);
    expect(s.distinct).toBe(200);
    expect(s.queried).toBe(60);
    expect(s.underestimates).toBe(0);
    expect(s.fraction_within_bound).toBeGreaterThanOrEqual(0.99);
    expect(s.heavy_hitters_recall).toBe(1);
    expect([s.width, s.depth]).toEqual([272, 5]);
    expect(s.counters_per_server).toHaveLength(2);
  });
});
