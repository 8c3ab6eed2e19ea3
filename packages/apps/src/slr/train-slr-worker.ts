import { type KVPairs, type KVWorker, type PsNode, stalenessOf, type Timestamp } from '@ps/core';
import type { SignificantUpdateFilter } from '@ps/filters';
import { WorkerCheckpointHold } from '../checkpoint/worker-checkpoint-hold.js';
import type { SparseDataset } from '../data/dataset.js';
import { accuracy, auc, logLoss } from '../data/metrics.js';
import { shard, takeRows } from '../data/split.js';
import { keyBitsFor } from './feature-keys.js';
import type { KktFilter } from './kkt-filter.js';
import { logisticGradient, predictRows } from './logistic-gradient.js';
import { GRADIENT_SLICE_MS, logisticGradientInSlices } from './logistic-gradient-in-slices.js';
import { MinibatchIndexer, type MinibatchKeys } from './minibatch.js';
import { type SlrConfig, slrBatchSize, slrEpochs } from './slr-config.js';

/** A worker's progress, reported at most every `progressEveryMs` and at the end of each epoch. */
export interface SlrProgress {
  type: 'progress';
  rank: number;
  epoch: number;
  epochs: number;
  /** Rows processed so far by this worker, over all epochs. */
  rowsDone: number;
  /** Rows this worker will process in all (shard rows × epochs). */
  rowsTotal: number;
  /** Mean logistic loss of the rows since the previous report. */
  loss: number;
  /** Training accuracy of the rows since the previous report. */
  accuracy: number;
  /** Rows per second since the previous report. */
  examplesPerSec: number;
  /** Keys this worker pushed so far (each push's key count, summed). */
  keysPushed: number;
  /** Keys this worker pulled so far. */
  keysPulled: number;
}

/** Test-set quality, computed by worker 0 after every worker finished training. */
export interface SlrEvaluation {
  rowsTest: number;
  accuracy: number;
  logloss: number;
  auc: number;
}

/** Test accuracy measured during training by worker 0 (`evalEvery`), for time-to-accuracy plots. */
export interface SlrEvalPoint {
  type: 'eval';
  /** Seconds since this worker started training. */
  seconds: number;
  /** Batches worker 0 had processed. */
  batches: number;
  /** Accuracy on the first (up to) 2,000 rows of the test set. */
  accuracy: number;
}

/** What a worker measured about its own training. */
export interface SlrWorkerReport {
  rank: number;
  /** Seconds from the first pull to the last push's completion. */
  trainSeconds: number;
  /**
   * Share of `trainSeconds` the training loop spent blocked: waiting for the next batch's weights
   * (held by the bounded delay, or in flight) and for the last pushes.
   */
  idleFraction: number;
  batches: number;
  /**
   * The largest gap in finished batches this worker saw on the workers' progress clock between the
   * fastest and the slowest live worker (see `stalenessOf`); at most τ + 1 with bounded delay τ.
   */
  maxStaleness: number;
}

/**
 * Training rows given as shards made on demand, for a worker that holds only its own (see
 * `openSlrData`): `shard(rank, count)` must equal `shard(train, rank, count)` of the whole set.
 */
export interface SlrShards {
  /** Rows of the whole training set. */
  rows: number;
  /** The dimension of every shard. */
  features: number;
  shard(rank: number, count: number): Promise<SparseDataset>;
}

const isShards = (t: SparseDataset | SlrShards): t is SlrShards => !('indptr' in t);

export interface TrainSlrWorkerArgs {
  node: PsNode;
  worker: KVWorker;
  cfg: SlrConfig;
  /** The whole training set (this worker trains its shard of it), or its shards on demand. */
  train: SparseDataset | SlrShards;
  /** The test rows, or a function that makes them (called only by the worker that evaluates). */
  test: SparseDataset | (() => Promise<SparseDataset>);
  onProgress?: (p: SlrProgress) => void;
  onEval?: (p: SlrEvalPoint) => void;
  /** The app's KKT filter, run on every gradient before its push (`--filters ...,kkt`). */
  kkt?: KktFilter;
  /** The node's significant-update filter, whose held-back residuals are flushed after training. */
  significant?: SignificantUpdateFilter;
  /** Minimum time between progress reports, in ms. Default 500. */
  progressEveryMs?: number;
  /**
   * Whether this worker measures test quality (`evalEvery` points, and the final evaluation after
   * every worker finished). Default: rank 0 does. Exactly one worker of a job should.
   */
  evaluator?: boolean;
  /** Resume at this batch of the shard (a checkpoint's position, see docs/checkpoints.md). Default 0. */
  startBatch?: number;
  /** Take part in the scheduler's periodic checkpoints (`--checkpoint-every`). Default false. */
  checkpoints?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A pull issued ahead of its batch: when training stops early (an error, a lost worker), it is
 * never awaited, and its rejection must not count as unhandled. Awaiting it still throws.
 */
function prefetched<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** The delay τ the job's consistency option stands for, in batches. */
export function slrTau(cfg: Pick<SlrConfig, 'consistency' | 'tau'>): number {
  return cfg.consistency === 'sequential' || cfg.consistency === 'sync'
    ? 0
    : cfg.consistency === 'eventual'
      ? Number.POSITIVE_INFINITY
      : cfg.tau;
}

/** Pulls prefetched beyond the batch being computed: τ, at most 32 (eventual: 8). */
const prefetchDepth = (tau: number) => (tau === Number.POSITIVE_INFINITY ? 8 : Math.min(tau, 32));

/**
 * One worker's part of distributed sparse logistic regression (OSDI 2014, section 5.1): for
 * each minibatch of its shard it pulls the weights of the batch's features, computes the
 * logistic-loss gradient, and pushes it; the servers' handler (AdaGrad, FTRL, SGD) applies it.
 *
 * Consistency is the paper's bounded delay at the level of iterations (section 3.5): the pull
 * for batch i + τ + 1 is a task that depends on the push of batch i, so weights are at most τ
 * batches stale, and up to τ pulls are prefetched while a batch is computed. `sequential` is
 * τ = 0; `eventual` prefetches 8 pulls with no dependency. After a barrier, worker 0 evaluates
 * the test set. Resolves with the evaluation on worker 0 (or the worker `evaluator` names) and
 * `undefined` elsewhere.
 */
export async function trainSlrWorker(
  args: TrainSlrWorkerArgs,
): Promise<{ evaluation: SlrEvaluation | undefined; report: SlrWorkerReport }> {
  const { node, worker, train, onProgress, onEval } = args;
  const testOf = args.test;
  const test = typeof testOf === 'function' ? testOf : () => Promise.resolve(testOf);
  const every = args.progressEveryMs ?? 500;
  const rank = node.rank;
  const workers = node.view.workers.length;
  // The batch size resolved once (its default depends on the shard's rows), for every use below.
  const cfg = { ...args.cfg, batchSize: slrBatchSize(args.cfg, train.rows, workers) };
  const evaluator = args.evaluator ?? rank === 0;
  const part = isShards(train) ? await train.shard(rank, workers) : shard(train, rank, workers);
  // The evaluator's test rows are made while training waits on the servers.
  if (evaluator) test().catch(() => undefined);
  const indexer = slrIndexer(train.features, cfg);
  const perEpoch = Math.ceil(part.rows / cfg.batchSize);
  const epochs = slrEpochs(cfg, train.rows);
  const total = perEpoch * epochs;
  const from = Math.min(args.startBatch ?? 0, total);
  const hold = args.checkpoints ? new WorkerCheckpointHold(node, from, total) : undefined;
  // Sync mode: batch b is iteration b of every worker (see syncIterations).
  const sync = cfg.consistency === 'sync';
  const iter = (b: number) => (sync ? { iteration: b } : {});
  const batchAt = (b: number) => {
    const start = (b % perEpoch) * cfg.batchSize;
    return { epoch: Math.floor(b / perEpoch) + 1, start, end: Math.min(start + cfg.batchSize, part.rows) };
  };
  const tau = slrTau(cfg);
  const depth = prefetchDepth(tau);
  const slowdown = rank === workers - 1 ? cfg.straggler : 1;
  const pulls = new Map<number, { batch: MinibatchKeys; weights: Promise<KVPairs> }>();
  const pushes: Timestamp<void>[] = [];
  // The cross-worker bound runs on the workers' progress clock (core's node.progress): batch b
  // counts as iteration b + 1, finished once the servers acknowledged its push.
  const progress = node.progress;
  let maxStaleness = 0;
  const watch = progress.clock$.subscribe({
    next: (c) => {
      maxStaleness = Math.max(maxStaleness, stalenessOf(c));
    },
    error: () => undefined,
  });
  const acked: boolean[] = [];
  let finished = from;
  if (from > 0) progress.finish(from);
  const onAcked = (b: number) => {
    acked[b] = true;
    while (acked[finished]) finished++;
    if (finished > progress.finished) progress.finish(finished);
  };
  // Keys pulled and pushed so far, for the progress reports (the dashboard's throughput).
  let keysPulled = 0;
  let keysPushed = 0;
  const issuePull = (b: number) => {
    const { start, end } = batchAt(b);
    const batch = indexer.keysOf(part, start, end);
    const { keys } = batch;
    keysPulled += keys.length;
    const dep = b - tau - 1;
    if (dep < from) {
      pulls.set(b, { batch, weights: prefetched(worker.wait(worker.pull(keys, iter(b)))) });
      return;
    }
    // The pull waits for this worker's push of batch b − τ − 1 (a task dependency) and for every
    // live worker to have finished that batch (iteration b − τ on the progress clock).
    const own = { deps: [pushes[dep]!], ...iter(b) };
    // With one worker the bound across workers is the task dependency itself: no clock to wait on.
    const gate = workers > 1 ? progress.waitFor(b, tau) : Promise.resolve();
    pulls.set(b, { batch, weights: prefetched(gate.then(() => worker.wait(worker.pull(keys, own)))) });
  };
  let idleMs = 0;
  const kkt = args.kkt;
  let grad = new Float32Array(4096);
  const rowsTotal = part.rows * epochs;
  let rowsDone = 0;
  for (let b = 0; b < from; b++) rowsDone += batchAt(b).end - batchAt(b).start;
  let windowRows = 0;
  let windowLoss = 0;
  let windowCorrect = 0;
  const t0 = performance.now();
  let windowStart = Date.now();
  const report = (epoch: number) => {
    const now = Date.now();
    onProgress?.({
      type: 'progress',
      rank,
      epoch,
      epochs,
      rowsDone,
      rowsTotal,
      loss: windowRows ? windowLoss / windowRows : Number.NaN,
      accuracy: windowRows ? windowCorrect / windowRows : Number.NaN,
      examplesPerSec: (windowRows * 1000) / Math.max(1, now - windowStart),
      keysPushed,
      keysPulled,
    });
    windowRows = 0;
    windowLoss = 0;
    windowCorrect = 0;
    windowStart = now;
  };
  const sampleOf = async () => {
    const t = await test();
    return takeRows(
      t,
      Array.from({ length: Math.min(2000, t.rows) }, (_, i) => i),
      `${t.name}/sample`,
    );
  };
  const sample = evaluator && onEval && cfg.evalEvery > 0 ? await sampleOf() : undefined;
  for (let b = from; b <= Math.min(from + depth, total - 1); b++) issuePull(b);
  for (let b = from; b < total; b++) {
    if (hold) await hold.at(b, () => Promise.all(pushes.slice(from, b).map((t) => worker.wait(t))));
    const { epoch, start, end } = batchAt(b);
    const w0 = performance.now();
    const pending = pulls.get(b)!;
    const weights = await pending.weights;
    idleMs += performance.now() - w0;
    pulls.delete(b);
    const c0 = performance.now();
    // The keys were collected when the pull was issued: only the positions are set now.
    const batch = indexer.use(pending.batch);
    if (grad.length < batch.keys.length) grad = new Float32Array(batch.keys.length * 2);
    const g = grad.subarray(0, batch.keys.length);
    // In slices: acknowledgements, the clock and the next pulls are handled while it computes.
    const stats = await logisticGradientInSlices(
      part,
      start,
      end,
      indexer.positions,
      weights.vals,
      g,
      batch.bias,
      GRADIENT_SLICE_MS,
    );
    if (slowdown > 1) await sleep((slowdown - 1) * (performance.now() - c0));
    // The gradient buffer is sent without a copy: give each push its own.
    const update = kkt
      ? kkt.apply(batch.keys, weights.vals, g.slice())
      : { keys: batch.keys, vals: g.slice() };
    keysPushed += update.keys.length;
    pushes[b] = worker.push(update, iter(b));
    // A push that fails is reported by the wait at the end; a closed node ends the waits.
    void worker
      .wait(pushes[b]!)
      .then(() => onAcked(b))
      .catch(() => undefined);
    if (b + depth + 1 < total) issuePull(b + depth + 1);
    rowsDone += stats.rows;
    windowRows += stats.rows;
    windowLoss += stats.loss;
    windowCorrect += stats.correct;
    if (Date.now() - windowStart >= every || b % perEpoch === perEpoch - 1) report(epoch);
    if (sample && onEval && (b + 1) % cfg.evalEvery === 0) {
      const { accuracy: acc } = await evaluate(worker, sample, cfg);
      onEval({ type: 'eval', seconds: (performance.now() - t0) / 1000, batches: b + 1, accuracy: acc });
    }
  }
  const w0 = performance.now();
  if (sync) for (const t of syncIterations(worker, total, train.rows, workers, cfg)) pushes.push(t);
  await Promise.all(pushes.map((t) => worker.wait(t)));
  // Push what significant-update held back, whole, so the sum of all updates reaches the servers.
  const sig = args.significant;
  if (sig) {
    const flushes = sig
      .flush()
      .filter((r) => r.app === worker.app && r.keys.length > 0)
      .map((r) =>
        sig.bypass(() => worker.push({ keys: r.keys, vals: Float32Array.from(r.vals), lens: r.lens })),
      );
    await Promise.all(flushes.map((t) => worker.wait(t)));
  }
  idleMs += performance.now() - w0;
  hold?.finished();
  watch.unsubscribe();
  // Shards differ by a batch or so: a worker done with its own holds the others back no more.
  progress.done();
  // A dead worker's data shard goes to a live one (section 4.5), from its last applied batch.
  const adopted = await adoptDeadShards({ ...args, cfg }, indexer, workers);
  const trainSeconds = (performance.now() - t0) / 1000;
  const idleFraction = idleMs / 1000 / trainSeconds;
  const workerReport = { rank, trainSeconds, idleFraction, batches: total + adopted, maxStaleness };
  await node.barrier('workers');
  const view = node.view;
  // The final evaluation: the worker `evaluator` names, else the lowest live rank (a dead
  // worker's place is taken by the next).
  const lowestLive = Math.min(...view.workers.filter((w) => !view.dead.includes(w.id)).map((w) => w.rank));
  if (!(args.evaluator ?? rank === lowestLive)) return { evaluation: undefined, report: workerReport };
  return { evaluation: await evaluate(worker, await test(), cfg), report: workerReport };
}

/**
 * Sync mode: every live worker pushes every iteration, and shards differ by a row, so one with
 * fewer batches than the largest shard pushes nothing (an empty push) for the iterations it has
 * no batch for. Returns their timestamps.
 */
function syncIterations(
  worker: KVWorker,
  total: number,
  rows: number,
  workers: number,
  cfg: SlrConfig,
): Timestamp<void>[] {
  const largest = Math.ceil(rows / workers);
  const last = Math.ceil(largest / cfg.batchSize) * slrEpochs(cfg, rows);
  const empty = { keys: new BigUint64Array(0), vals: new Float32Array(0) };
  const out: Timestamp<void>[] = [];
  for (let b = total; b < last; b++) out.push(worker.push(empty, { iteration: b }));
  return out;
}

/**
 * Trains, in this worker, the remaining batches of every dead worker whose shard falls to it
 * (dead rank d goes to the d-th live worker, modulo their number), starting after the dead
 * worker's last batch the servers acknowledged (its last entry on the progress clock). Returns
 * the batches trained.
 */
async function adoptDeadShards(
  args: TrainSlrWorkerArgs,
  indexer: MinibatchIndexer,
  workers: number,
): Promise<number> {
  const { node, worker, cfg, train } = args;
  const view = node.view;
  const deadIds = new Map(
    view.workers.filter((w) => view.dead.includes(w.id) && w.rank < workers).map((w) => [w.rank, w.id]),
  );
  const dead = [...deadIds.keys()].sort((a, b) => a - b);
  const live = view.workers
    .filter((w) => !view.dead.includes(w.id) && w.rank < workers)
    .map((w) => w.rank)
    .sort((a, b) => a - b);
  let trained = 0;
  for (const d of dead) {
    if (live.length === 0 || live[d % live.length] !== node.rank) continue;
    const part = isShards(train) ? await train.shard(d, workers) : shard(train, d, workers);
    const perEpoch = Math.ceil(part.rows / cfg.batchSize);
    const total = perEpoch * slrEpochs(cfg, train.rows);
    const from = Math.min(total, node.progress.finishedBy(deadIds.get(d)!) ?? 0);
    node.log.warn(`worker rank ${d} is dead: training its shard from batch ${from} of ${total}`);
    let pending: Timestamp<void>[] = [];
    for (let b = from; b < total; b++) {
      const start = (b % perEpoch) * cfg.batchSize;
      const end = Math.min(start + cfg.batchSize, part.rows);
      const batch = indexer.index(part, start, end);
      const weights = await worker.wait(worker.pull(batch.keys));
      const g = new Float32Array(batch.keys.length);
      logisticGradient(part, start, end, indexer.positions, weights.vals, g, batch.bias);
      pending.push(worker.push({ keys: batch.keys, vals: g }));
      if (pending.length > 8) {
        await Promise.all(pending.map((t) => worker.wait(t)));
        pending = [];
      }
      trained++;
    }
    await Promise.all(pending.map((t) => worker.wait(t)));
  }
  return trained;
}

/**
 * The job's batch indexer for a data set of `features` buckets: keys of `keyBitsFor(features)`
 * bits, and the intercept's key appended to every batch unless `cfg.intercept` is false.
 */
function slrIndexer(features: number, cfg: Pick<SlrConfig, 'intercept'>): MinibatchIndexer {
  return new MinibatchIndexer(features, keyBitsFor(features), { bias: cfg.intercept !== false });
}

/**
 * Pulls the weights of every feature of `test` (and the intercept, unless `cfg.intercept` is
 * false) and measures accuracy, log-loss and AUC.
 */
export async function evaluate(
  worker: KVWorker,
  test: SparseDataset,
  cfg: Pick<SlrConfig, 'intercept'>,
): Promise<SlrEvaluation> {
  const indexer = slrIndexer(test.features, cfg);
  const probs = new Float64Array(test.rows);
  // In slices, so that no request grows past a few MB.
  const slice = 2000;
  for (let start = 0; start < test.rows; start += slice) {
    const end = Math.min(start + slice, test.rows);
    const batch = indexer.index(test, start, end);
    const w = await worker.wait(worker.pull(batch.keys));
    predictRows(test, start, end, indexer.positions, w.vals, probs, batch.bias);
  }
  return {
    rowsTest: test.rows,
    accuracy: accuracy(test.labels, probs),
    logloss: logLoss(test.labels, probs),
    auc: auc(test.labels, probs),
  };
}
