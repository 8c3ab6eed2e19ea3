// The browser worker's logic, run in Node: the page only adds the DOM and wsBrowser().
import { createServer, Scheduler } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { describe, expect, it } from 'vitest';
import { openSlrData } from '../job/open-slr-data.js';
import { resolveSlrConfig } from '../slr/slr-config.js';
import { slrHandler } from '../slr/slr-handler.js';
import { type BrowserWorkerState, runBrowserWorker } from './run-browser-worker.js';

describe('runBrowserWorker', () => {
  it('loads, joins, trains its shard, evaluates and finalizes, reporting each step', async () => {
    const cfg = resolveSlrConfig({ dataset: 'spam', transport: 'ws', browserWorkers: 1, epochs: 2 });
    const hub = new InprocHub();
    // Every role shares this one thread, which hashes the corpus: under load that can hold the
    // heartbeats past the 2 s default, so give it the 10 s that jobs with browser workers get.
    const scheduler = await Scheduler.start({
      transport: inproc({ hub }),
      numServers: 1,
      numWorkers: 1,
      heartbeatTimeoutMs: 10_000,
    });
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const server = createServer({
      transport: inproc({ hub }),
      scheduler: at,
      handler: { 0: slrHandler(cfg) },
    });
    const seen: BrowserWorkerState[] = [];
    const final = await runBrowserWorker({
      scheduler: at,
      cfg,
      transport: () => inproc({ hub }),
      openData: () => openSlrData(cfg),
      onState: (s) => seen.push(s),
      id: 'tab-000000000001',
    });
    await (await server).node.terminated;
    await scheduler.terminated;
    expect(final.error).toBeNull();
    expect(final.status).toBe('done');
    expect([...new Set(seen.map((s) => s.status))]).toEqual([
      'loading',
      'joining',
      'training',
      'evaluating',
      'done',
    ]);
    expect(final).toMatchObject({
      id: 'tab-000000000001',
      rank: 0,
      workers: 1,
      rowsTrain: 4837,
      rowsTest: 1209,
    });
    expect(final.shardRows).toBe(4837);
    // The default batch: 256 rows, 19 a pass over the 4,837 rows of the one shard.
    expect(final.batchesTotal).toBe(19 * 2);
    expect(final.pushes).toBe(final.batchesTotal);
    expect(final.pushesAcked).toBe(final.pushes);
    expect(final.accuracy!).toBeGreaterThanOrEqual(0.95);
    expect(final.auc!).toBeGreaterThanOrEqual(0.98);
    // Progress came while training, not only at the end.
    expect(seen.some((s) => s.status === 'training' && s.pushes > 0 && s.pushes < final.pushes)).toBe(true);
  });

  it('ends in status failed, never a rejection, when the data or the scheduler cannot be had', async () => {
    const cfg = resolveSlrConfig({ dataset: 'spam', transport: 'ws', browserWorkers: 1 });
    const noData = await runBrowserWorker({
      scheduler: { host: '127.0.0.1', port: 1 },
      cfg,
      transport: () => tcp(),
      openData: () => Promise.reject(new Error('GET /data/slr/sizes: HTTP 404')),
    });
    expect(noData).toMatchObject({ status: 'failed', error: 'GET /data/slr/sizes: HTTP 404', rank: null });
    const none = () => Promise.reject(new Error('not asked for before joining'));
    const sizesOnly = { trainRows: 2, testRows: 1, features: 16, shard: none, test: none };
    const noScheduler = await runBrowserWorker({
      // Port 1 on loopback: nobody listens there.
      scheduler: { host: '127.0.0.1', port: 1 },
      cfg,
      transport: () => tcp({ connectTimeoutMs: 300 }),
      openData: async () => sizesOnly,
    });
    expect(noScheduler.status).toBe('failed');
    expect(noScheduler.error).toMatch(/127\.0\.0\.1:1/);
    expect(noScheduler.rowsTrain).toBe(2);
  });
});
