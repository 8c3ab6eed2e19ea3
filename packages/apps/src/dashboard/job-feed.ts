import type { JobEvent, JobSummary } from '../job/job-events.js';
import type { ClusterDigest } from './cluster-digest.js';

/** One progress report of one worker, as a point of the training curves. */
export interface TrainingPoint {
  /** The worker's rank. */
  rank: number;
  /** Seconds since the job started (the launcher's clock). */
  seconds: number;
  /** Progress of this worker in epochs: `rowsDone / rowsTotal × epochs` (1.5: half-way through epoch 2). */
  epoch: number;
  /** Mean logistic loss of the rows since the worker's previous report. */
  loss: number;
  /** Training accuracy of those rows. */
  accuracy: number;
  examplesPerSec: number;
  /**
   * Keys pushed and pulled per second since the worker's previous report (NaN, `null` in JSON, at
   * its first and at one less than 0.25 s after the last that has a rate: the next one measures
   * from there).
   */
  keysPushedPerSec: number;
  keysPulledPerSec: number;
}

/** Held-out quality: worker 0's test accuracy during training (`--eval-every`), and the final evaluation. */
export interface HeldOutPoint {
  seconds: number;
  /** Progress in epochs of the evaluating worker when it measured. */
  epoch: number;
  accuracy: number;
  /** Log-loss, known for the final evaluation only. */
  loss?: number;
  final: boolean;
}

/** Everything the dashboard shows about a job: what `GET /job.json` answers and `/events` streams. */
export interface JobSnapshot {
  /** `starting` (processes start, data loads), `running` (a worker reported progress), `done`, `failed`. */
  status: 'starting' | 'running' | 'done' | 'failed';
  job: { dataset: string; servers: number; workers: number; transport: string; epochs: number };
  /** The scheduler's latest view; absent until it published one. */
  cluster?: ClusterDigest;
  training: TrainingPoint[];
  heldOut: HeldOutPoint[];
  /** The latest rates summed over the workers' last reports. */
  throughput: { examplesPerSec: number; keysPushedPerSec: number; keysPulledPerSec: number };
  /** Roles SIGKILLed by `--kill`. */
  killed: { role: string; at: number }[];
  /** The job's summary (`pskv slr --json`'s object) once it is done. */
  summary?: JobSummary;
  /** Why the job failed. */
  error?: string;
}

/** The shortest time between two reports of a worker that gives a rate, in seconds. */
const MIN_RATE_SECONDS = 0.25;

/**
 * Folds a job's events ({@link JobEvent}, what the launcher hears from its roles) into a
 * {@link JobSnapshot}, and tells subscribers whenever it changes. Memory is bounded: a worker's
 * points are at most `maxPoints` (default 600: the whole snapshot goes to each page every 250 ms); past
 * that, every other point is dropped.
 * `now` is the clock in ms (default `performance.now`); seconds count from the feed's creation.
 */
export class JobFeed {
  private readonly state: JobSnapshot;
  private readonly now: () => number;
  private readonly t0: number;
  private readonly last = new Map<number, { seconds: number; keysPushed: number; keysPulled: number }>();
  private readonly rates = new Map<number, JobSnapshot['throughput']>();
  private readonly listeners = new Set<(s: JobSnapshot) => void>();
  private readonly maxPoints: number;
  /** The job's batch size, or what gives it from the training rows (the default depends on them). */
  private readonly batchSizeOf: (rowsTrain: number) => number;
  private batchSize = 0;
  private rowsPerEpoch0 = 0;

  constructor(
    job: JobSnapshot['job'] & { batchSize: number | ((rowsTrain: number) => number) },
    opts: { maxPoints?: number; now?: () => number } = {},
  ) {
    const { batchSize, ...shown } = job;
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
    this.batchSizeOf = typeof batchSize === 'function' ? batchSize : () => batchSize;
    if (typeof batchSize === 'number') this.batchSize = batchSize;
    this.maxPoints = opts.maxPoints ?? 600;
    this.state = {
      status: 'starting',
      job: shown,
      training: [],
      heldOut: [],
      throughput: { examplesPerSec: 0, keysPushedPerSec: 0, keysPulledPerSec: 0 },
      killed: [],
    };
  }

  /** The current state (the feed's own object: do not mutate it). */
  snapshot(): JobSnapshot {
    return this.state;
  }

  /** Calls `listener` after every change; returns what unsubscribes it. */
  subscribe(listener: (s: JobSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes one event of the job in. */
  on(e: JobEvent): void {
    const s = this.state;
    const seconds = (this.now() - this.t0) / 1000;
    if (e.type === 'data') {
      this.batchSize = this.batchSizeOf(e.rowsTrain);
      return;
    }
    if (e.type === 'view') s.cluster = e.cluster;
    else if (e.type === 'killed') s.killed.push({ role: e.role, at: e.at });
    else if (e.type === 'progress') {
      if (s.status === 'starting') s.status = 'running';
      s.job.epochs = e.epochs;
      const prev = this.last.get(e.rank);
      const dt = prev ? seconds - prev.seconds : 0;
      // A report right after another (an epoch's end just after a timed one) would give a rate
      // over a few ms, all noise: it gets none, and the next is measured from the earlier one.
      const rated = prev !== undefined && dt >= MIN_RATE_SECONDS;
      const rate = (now: number, before: number | undefined) =>
        rated && before !== undefined ? (now - before) / dt : Number.NaN;
      const point: TrainingPoint = {
        rank: e.rank,
        seconds,
        epoch: e.rowsTotal > 0 ? (e.rowsDone / e.rowsTotal) * e.epochs : 0,
        loss: e.loss,
        accuracy: e.accuracy,
        examplesPerSec: e.examplesPerSec,
        keysPushedPerSec: rate(e.keysPushed, prev?.keysPushed),
        keysPulledPerSec: rate(e.keysPulled, prev?.keysPulled),
      };
      if (!prev || rated)
        this.last.set(e.rank, { seconds, keysPushed: e.keysPushed, keysPulled: e.keysPulled });
      if (e.rank === 0) this.rowsPerEpoch0 = e.rowsTotal / Math.max(1, e.epochs);
      if (!prev || rated)
        this.rates.set(e.rank, {
          examplesPerSec: point.examplesPerSec,
          keysPushedPerSec: point.keysPushedPerSec,
          keysPulledPerSec: point.keysPulledPerSec,
        });
      s.throughput = sumRates(this.rates.values());
      s.training.push(point);
      this.thin(e.rank);
    } else if (e.type === 'eval') {
      const epoch = this.rowsPerEpoch0 > 0 ? (e.batches * this.batchSize) / this.rowsPerEpoch0 : 0;
      s.heldOut.push({ seconds, epoch, accuracy: e.accuracy, final: false });
    } else if (e.type === 'worker-report') {
      // A worker that is done moves nothing any more.
      this.rates.delete(e.report.rank);
      s.throughput = sumRates(this.rates.values());
    } else return;
    this.changed();
  }

  /** The job ended with `summary`: its final held-out point, status `done`. */
  finish(summary: JobSummary): void {
    const s = this.state;
    s.summary = summary;
    s.status = 'done';
    s.heldOut.push({
      seconds: (this.now() - this.t0) / 1000,
      epoch: summary.epochs,
      accuracy: summary.accuracy,
      loss: summary.logloss,
      final: true,
    });
    this.rates.clear();
    s.throughput = sumRates([]);
    this.changed();
  }

  /** The job failed with `error`. */
  fail(error: unknown): void {
    this.state.status = 'failed';
    this.state.error = error instanceof Error ? error.message : String(error);
    this.changed();
  }

  private changed(): void {
    for (const l of this.listeners) l(this.state);
  }

  /** Keeps a worker's points under `maxPoints`: every other one of its points goes. */
  private thin(rank: number): void {
    const t = this.state.training;
    let n = 0;
    for (const p of t) if (p.rank === rank) n++;
    if (n <= this.maxPoints) return;
    let i = 0;
    this.state.training = t.filter((p) => p.rank !== rank || i++ % 2 === 0);
  }
}

function sumRates(rates: Iterable<JobSnapshot['throughput']>): JobSnapshot['throughput'] {
  const sum = { examplesPerSec: 0, keysPushedPerSec: 0, keysPulledPerSec: 0 };
  const add = (x: number) => (Number.isFinite(x) ? x : 0);
  for (const r of rates) {
    sum.examplesPerSec += add(r.examplesPerSec);
    sum.keysPushedPerSec += add(r.keysPushedPerSec);
    sum.keysPulledPerSec += add(r.keysPulledPerSec);
  }
  return sum;
}
