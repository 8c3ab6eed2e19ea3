import type { KVWorker, PsNode, Timestamp } from '@ps/core';
import type { SparseDataset } from '../data/dataset.js';
import { accuracy, auc, logLoss } from '../data/metrics.js';
import { shard } from '../data/split.js';
import { logisticGradient, predictRows } from './logistic-gradient.js';
import { MinibatchIndexer } from './minibatch.js';
import type { SlrConfig } from './slr-config.js';

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
}

/** Test-set quality, computed by worker 0 after every worker finished training. */
export interface SlrEvaluation {
  rowsTest: number;
  accuracy: number;
  logloss: number;
  auc: number;
}

export interface TrainSlrWorkerArgs {
  node: PsNode;
  worker: KVWorker;
  cfg: SlrConfig;
  train: SparseDataset;
  test: SparseDataset;
  onProgress?: (p: SlrProgress) => void;
  /** Minimum time between progress reports, in ms. Default 500. */
  progressEveryMs?: number;
}

/**
 * One worker's part of distributed sparse logistic regression (OSDI 2014, section 5.1): for
 * each minibatch of its shard it pulls the weights of the batch's features, computes the
 * logistic-loss gradient, and pushes it; the servers' handler (AdaGrad, FTRL, SGD) applies it.
 * At most one push is in flight, and each pull is sent after the previous push on the same
 * connections, so a worker sees its own updates. After a barrier, worker 0 evaluates the test
 * set. Resolves with the evaluation on worker 0 and `undefined` elsewhere.
 */
export async function trainSlrWorker(args: TrainSlrWorkerArgs): Promise<SlrEvaluation | undefined> {
  const { node, worker, cfg, train, test, onProgress } = args;
  const every = args.progressEveryMs ?? 500;
  const rank = node.rank;
  const part = shard(train, rank, node.view.workers.length);
  const indexer = new MinibatchIndexer(train.features, cfg.bits);
  let grad = new Float32Array(4096);
  let lastPush: Timestamp<void> | undefined;
  const rowsTotal = part.rows * cfg.epochs;
  let rowsDone = 0;
  let windowRows = 0;
  let windowLoss = 0;
  let windowCorrect = 0;
  let windowStart = Date.now();
  const report = (epoch: number) => {
    const now = Date.now();
    onProgress?.({
      type: 'progress',
      rank,
      epoch,
      epochs: cfg.epochs,
      rowsDone,
      rowsTotal,
      loss: windowRows ? windowLoss / windowRows : Number.NaN,
      accuracy: windowRows ? windowCorrect / windowRows : Number.NaN,
      examplesPerSec: (windowRows * 1000) / Math.max(1, now - windowStart),
    });
    windowRows = 0;
    windowLoss = 0;
    windowCorrect = 0;
    windowStart = now;
  };
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    for (let start = 0; start < part.rows; start += cfg.batchSize) {
      const end = Math.min(start + cfg.batchSize, part.rows);
      const batch = indexer.index(part, start, end);
      const weights = await worker.wait(worker.pull(batch.keys));
      if (grad.length < batch.keys.length) grad = new Float32Array(batch.keys.length * 2);
      const g = grad.subarray(0, batch.keys.length);
      const stats = logisticGradient(part, start, end, indexer.positions, weights.vals, g);
      if (lastPush !== undefined) await worker.wait(lastPush);
      // The gradient buffer is sent without a copy: give each push its own.
      lastPush = worker.push({ keys: batch.keys, vals: g.slice() });
      rowsDone += stats.rows;
      windowRows += stats.rows;
      windowLoss += stats.loss;
      windowCorrect += stats.correct;
      if (Date.now() - windowStart >= every) report(epoch);
    }
    report(epoch);
  }
  if (lastPush !== undefined) await worker.wait(lastPush);
  await node.barrier('workers');
  if (rank !== 0) return undefined;
  return evaluate(worker, test, cfg.bits);
}

/** Pulls the weights of every feature of `test` and measures accuracy, log-loss and AUC. */
export async function evaluate(worker: KVWorker, test: SparseDataset, bits: number): Promise<SlrEvaluation> {
  const indexer = new MinibatchIndexer(test.features, bits);
  const probs = new Float64Array(test.rows);
  // In slices, so that no request grows past a few MB.
  const slice = 2000;
  for (let start = 0; start < test.rows; start += slice) {
    const end = Math.min(start + slice, test.rows);
    const batch = indexer.index(test, start, end);
    const w = await worker.wait(worker.pull(batch.keys));
    predictRows(test, start, end, indexer.positions, w.vals, probs);
  }
  return {
    rowsTest: test.rows,
    accuracy: accuracy(test.labels, probs),
    logloss: logLoss(test.labels, probs),
    auc: auc(test.labels, probs),
  };
}
