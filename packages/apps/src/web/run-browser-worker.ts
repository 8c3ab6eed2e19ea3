import {
  createWorker,
  type Filter,
  type KVWorker,
  type PeerAddress,
  type PsNode,
  type Transport,
} from '@ps/core';
import type { SignificantUpdateFilter } from '@ps/filters';
import type { SparseDataset } from '../data/dataset.js';
import { shardRange } from '../data/split.js';
import { filtersFromSpec } from '../slr/filters-from-spec.js';
import { kktFilter } from '../slr/kkt-filter.js';
import { type SlrConfig, slrBatchSize, slrEpochs } from '../slr/slr-config.js';
import { evaluate, trainSlrWorker } from '../slr/train-slr-worker.js';
import { newBrowserWorkerState } from './new-browser-worker-state.js';

/** Where a browser worker is in its run. */
export type BrowserWorkerStatus = 'loading' | 'joining' | 'training' | 'evaluating' | 'done' | 'failed';

/**
 * A browser worker's state, as its page shows it and exposes it on `window.psWorker`. Counts
 * are this worker's own; `accuracy`, `logloss` and `auc` are measured on the whole held-out
 * split after every worker finished training.
 */
export interface BrowserWorkerState {
  status: BrowserWorkerStatus;
  /** This worker's node id (`tab-…`). */
  id: string;
  /** Rank among the cluster's workers, and how many workers there are (once joined). */
  rank: number | null;
  workers: number | null;
  /** Rows of the training split and of the held-out split (once the data is loaded). */
  rowsTrain: number | null;
  rowsTest: number | null;
  /** Rows of this worker's shard of the training split (once joined). */
  shardRows: number | null;
  epoch: number;
  epochs: number;
  /** Minibatches this worker will train in all (once joined). */
  batchesTotal: number;
  /** Gradients pushed (one per minibatch), and of those, the ones every server acknowledged. */
  pushes: number;
  pushesAcked: number;
  /** Mean training loss and accuracy of the rows since the previous progress report. */
  loss: number | null;
  trainAccuracy: number | null;
  /** Quality on the held-out split (once evaluated). */
  accuracy: number | null;
  logloss: number | null;
  auc: number | null;
  /**
   * The node's filter chain (the job's `filters`, in order), with the bytes each filter was given
   * (`bytesIn`) and gave on (`bytesOut`) in both directions, as the Node roles report them.
   */
  filters: { signature: string; bytesIn: number; bytesOut: number }[];
  /** Bytes this node handed to its transport, and received. */
  bytesSent: number;
  bytesReceived: number;
  /** Seconds since the run started. */
  seconds: number;
  /** The tfjs backend a `pskv nn` tab computes with (`wasm`, or `cpu` when wasm cannot load). */
  backend?: string;
  /** Why the run failed (`status: 'failed'`). */
  error: string | null;
}

/**
 * A job's data as a browser worker reads it: the sizes at once, its shard and the test rows when
 * asked for (`openSlrData` in Node; in a page, `openServedSlrData`, from `pskv serve`).
 */
export interface BrowserSlrData {
  trainRows: number;
  testRows: number;
  features: number;
  /** Training shard `rank` of `count`, as `openSlrData(cfg).shard(rank, count)`. */
  shard(rank: number, count: number): Promise<SparseDataset>;
  test(): Promise<SparseDataset>;
}

/** Options of {@link runBrowserWorker}. */
export interface RunBrowserWorkerOptions {
  /** The scheduler's WebSocket address. */
  scheduler: PeerAddress;
  /** The job, as every role of the cluster has it. */
  cfg: SlrConfig;
  /** Makes the transport: `wsBrowser()` in a page. */
  transport: () => Transport;
  /** Opens the job's data (a page asks `pskv serve` for the sizes, then for its own shard). */
  openData: () => Promise<BrowserSlrData>;
  /** Called with a fresh copy of the state on every change of status and every progress report. */
  onState?: (state: BrowserWorkerState) => void;
  /** This worker's node id; default `tab-` and 12 random hex digits. */
  id?: string;
  /** How long to wait for the whole cluster to register, in ms. Default 600,000. */
  startTimeoutMs?: number;
}

/**
 * Runs one worker of the sparse logistic regression job where a Node process cannot be, in a
 * browser tab (in its Web Worker): opens the job's data (sizes only), joins the cluster as a
 * worker (it only connects out) with the job's filter chain (`filtersFromSpec`, as a Node
 * worker), reads its own shard, already hashed or parsed (the rows a Node worker of its rank
 * would train), trains it with {@link trainSlrWorker} (pull weights, push gradients), measures
 * the model on the held-out split, and finalizes. Never evaluates for the cluster (the first Node worker does). Resolves
 * with the final state; a failure ends in `status: 'failed'` with `error`, never a rejection.
 */
export async function runBrowserWorker(opts: RunBrowserWorkerOptions): Promise<BrowserWorkerState> {
  const { cfg } = opts;
  const t0 = performance.now();
  const state = newBrowserWorkerState(opts.id, Math.max(0, cfg.epochs), 0);
  let node: PsNode | undefined;
  let worker: KVWorker | undefined;
  let chain: Filter[] = [];
  const pending = new Set<number>();
  const emit = () => {
    if (worker) {
      for (const ts of pending) {
        if (worker.isFinished(ts)) {
          pending.delete(ts);
          state.pushesAcked++;
        }
      }
    }
    if (node) {
      state.bytesSent = node.stats.bytesSent;
      state.bytesReceived = node.stats.bytesReceived;
    }
    state.filters = chain.map((f) => ({
      signature: f.signature,
      bytesIn: f.stats.bytesIn,
      bytesOut: f.stats.bytesOut,
    }));
    state.seconds = (performance.now() - t0) / 1000;
    opts.onState?.({ ...state });
  };
  try {
    emit();
    const data = await opts.openData();
    state.rowsTrain = data.trainRows;
    state.rowsTest = data.testRows;
    state.status = 'joining';
    emit();
    // The job's filter chain, as a Node worker builds it (lz4 is the browser build in a page's bundle).
    const filters = filtersFromSpec(cfg.filters);
    chain = filters;
    const kkt = cfg.filters.split(',').some((f) => f.trim() === 'kkt') ? kktFilter(cfg.l1) : undefined;
    const joined = await createWorker({
      transport: opts.transport(),
      scheduler: opts.scheduler,
      id: state.id,
      filters,
      startTimeoutMs: opts.startTimeoutMs ?? 600_000,
    });
    node = joined.node;
    const model = joined.worker;
    worker = model;
    const workers = node.view.workers.length;
    const rank = node.rank;
    const range = shardRange(data.trainRows, rank, workers);
    const shardRows = range.end - range.begin;
    Object.assign(state, {
      status: 'training',
      rank,
      workers,
      shardRows,
      epochs: slrEpochs(cfg, data.trainRows),
      batchesTotal:
        Math.ceil(shardRows / slrBatchSize(cfg, data.trainRows, workers)) * slrEpochs(cfg, data.trainRows),
    });
    // Count this worker's gradient pushes (one per minibatch) and, from the timestamps, their acks.
    const push = model.push.bind(model);
    model.push = (kv, o) => {
      const ts = push(kv, o);
      state.pushes++;
      pending.add(ts);
      return ts;
    };
    emit();
    const significant = filters.find((f) => f.name === 'significant') as SignificantUpdateFilter | undefined;
    await trainSlrWorker({
      node,
      worker: model,
      cfg,
      train: { rows: data.trainRows, features: data.features, shard: (r, c) => data.shard(r, c) },
      test: () => data.test(),
      evaluator: false,
      ...(kkt ? { kkt } : {}),
      ...(significant ? { significant } : {}),
      onProgress: (p) => {
        state.epoch = p.epoch;
        if (Number.isFinite(p.loss)) state.loss = p.loss;
        if (Number.isFinite(p.accuracy)) state.trainAccuracy = p.accuracy;
        emit();
      },
    });
    state.status = 'evaluating';
    emit();
    const e = await evaluate(model, await data.test(), cfg);
    Object.assign(state, { accuracy: e.accuracy, logloss: e.logloss, auc: e.auc });
    await node.finalize();
    if (node.terminationError) throw node.terminationError;
    state.status = 'done';
  } catch (err) {
    state.status = 'failed';
    state.error = err instanceof Error ? err.message : String(err);
    await node?.close().catch(() => undefined);
  }
  emit();
  return { ...state };
}
