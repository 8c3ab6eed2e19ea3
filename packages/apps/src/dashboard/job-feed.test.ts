import { describe, expect, it } from 'vitest';
import type { JobSummary } from '../job/job-events.js';
import type { SlrProgress } from '../slr/train-slr-worker.js';
import { JobFeed } from './job-feed.js';

const job = { dataset: 'spam', servers: 2, workers: 2, transport: 'tcp', epochs: 0, batchSize: 50 };

function progress(rank: number, rowsDone: number, keysPushed: number, keysPulled: number): SlrProgress {
  return {
    type: 'progress',
    rank,
    epoch: 1,
    epochs: 2,
    rowsDone,
    rowsTotal: 400,
    loss: 0.5,
    accuracy: 0.75,
    examplesPerSec: 100 + rank,
    keysPushed,
    keysPulled,
  };
}

/** A feed on a clock the test moves. */
function feedAt(opts: { maxPoints?: number } = {}) {
  let ms = 10_000;
  const feed = new JobFeed(job, { ...opts, now: () => ms });
  const at = (t: number) => {
    ms = 10_000 + t;
  };
  return { feed, at };
}

describe('JobFeed', () => {
  it('turns progress reports into points: epochs done, keys per second between reports, summed rates', () => {
    const { feed, at } = feedAt();
    const seen: string[] = [];
    feed.subscribe((s) => seen.push(s.status));
    expect(feed.snapshot().status).toBe('starting');
    at(1000);
    feed.on(progress(0, 100, 1000, 1200));
    at(3000);
    feed.on(progress(0, 300, 5000, 6200));
    feed.on(progress(1, 50, 700, 800));
    const s = feed.snapshot();
    expect(s.status).toBe('running');
    expect(s.job).toEqual({ dataset: 'spam', servers: 2, workers: 2, transport: 'tcp', epochs: 2 });
    expect(s.training).toEqual([
      {
        rank: 0,
        seconds: 1,
        epoch: 0.5,
        loss: 0.5,
        accuracy: 0.75,
        examplesPerSec: 100,
        keysPushedPerSec: Number.NaN,
        keysPulledPerSec: Number.NaN,
      },
      {
        rank: 0,
        seconds: 3,
        epoch: 1.5,
        loss: 0.5,
        accuracy: 0.75,
        examplesPerSec: 100,
        keysPushedPerSec: 2000,
        keysPulledPerSec: 2500,
      },
      {
        rank: 1,
        seconds: 3,
        epoch: 0.25,
        loss: 0.5,
        accuracy: 0.75,
        examplesPerSec: 101,
        keysPushedPerSec: Number.NaN,
        keysPulledPerSec: Number.NaN,
      },
    ]);
    // A worker's first report has no rate yet: it adds none.
    expect(s.throughput).toEqual({ examplesPerSec: 201, keysPushedPerSec: 2000, keysPulledPerSec: 2500 });
    // Worker 0 is done: its rates no longer count.
    feed.on({
      type: 'worker-report',
      report: { rank: 0, trainSeconds: 3, idleFraction: 0.5, batches: 8, maxStaleness: 1 },
    });
    expect(feed.snapshot().throughput).toEqual({
      examplesPerSec: 101,
      keysPushedPerSec: 0,
      keysPulledPerSec: 0,
    });
    expect(seen).toEqual(['running', 'running', 'running', 'running']);
  });

  it('gives no rate to a report less than 0.25 s after the last one with a rate: the next measures from that one', () => {
    const { feed, at } = feedAt();
    at(1000);
    feed.on(progress(0, 100, 1000, 1000));
    at(2000);
    feed.on(progress(0, 200, 2000, 2000));
    at(2100);
    feed.on(progress(0, 210, 2500, 2500));
    at(3000);
    feed.on(progress(0, 300, 4000, 4000));
    expect(feed.snapshot().training.map((p) => p.keysPushedPerSec)).toEqual([
      Number.NaN,
      1000,
      Number.NaN,
      2000,
    ]);
    expect(feed.snapshot().throughput.keysPulledPerSec).toBe(2000);
  });

  it('places held-out evaluations on the epoch axis, and the final evaluation at the last epoch', () => {
    const { feed, at } = feedAt();
    feed.on(progress(0, 100, 1000, 1200));
    at(2500);
    // 2 batches of 50 rows of a 200-row epoch (400 rows over 2 epochs): half an epoch.
    feed.on({ type: 'eval', seconds: 2, batches: 2, accuracy: 0.9 });
    at(4000);
    feed.finish({ epochs: 2, accuracy: 0.97519, logloss: 0.05255 } as JobSummary);
    const s = feed.snapshot();
    expect(s.heldOut).toEqual([
      { seconds: 2.5, epoch: 0.5, accuracy: 0.9, final: false },
      { seconds: 4, epoch: 2, accuracy: 0.97519, loss: 0.05255, final: true },
    ]);
    expect(s.status).toBe('done');
    expect(s.summary?.accuracy).toBe(0.97519);
    expect(s.throughput).toEqual({ examplesPerSec: 0, keysPushedPerSec: 0, keysPulledPerSec: 0 });
  });

  it('takes the batch size from the training rows when the job gives a function (the default batch)', () => {
    const feed = new JobFeed({ ...job, batchSize: (rows: number) => rows / 8 }, { now: () => 2500 });
    feed.on({ type: 'data', rank: 0, rowsTrain: 400, rowsTest: 100, features: 10, loadSeconds: 0 });
    feed.on(progress(0, 100, 1000, 1200));
    // Batches of 400 / 8 = 50 rows: 2 of them are half of the 200-row epoch.
    feed.on({ type: 'eval', seconds: 2, batches: 2, accuracy: 0.9 });
    expect(feed.snapshot().heldOut.map((p) => p.epoch)).toEqual([0.5]);
  });

  it('keeps the latest view and the killed roles, and says why a job failed', () => {
    const { feed } = feedAt();
    const cluster = { version: 3, epoch: 1, run: 'r', replicas: 0, ringVersion: 1, nodes: [], ranges: [] };
    feed.on({ type: 'view', cluster });
    feed.on({ type: 'killed', role: 'ps-server (1/2)', pid: 42, at: 0.3 });
    feed.fail(new Error('ps-worker (1/2) exited with code 1'));
    const s = feed.snapshot();
    expect(s.cluster).toBe(cluster);
    expect(s.killed).toEqual([{ role: 'ps-server (1/2)', at: 0.3 }]);
    expect(s.status).toBe('failed');
    expect(s.error).toBe('ps-worker (1/2) exited with code 1');
  });

  it("holds at most maxPoints of a worker's points: past that, every other one goes", () => {
    const { feed, at } = feedAt({ maxPoints: 4 });
    for (let i = 1; i <= 5; i++) {
      at(i * 1000);
      feed.on(progress(0, i * 10, i, i));
    }
    feed.on(progress(1, 10, 1, 1));
    expect(feed.snapshot().training.map((p) => [p.rank, p.seconds])).toEqual([
      [0, 1],
      [0, 3],
      [0, 5],
      [1, 5],
    ]);
  });
});
