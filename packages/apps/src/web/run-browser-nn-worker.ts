import { createWorker, type PeerAddress, type PsNode, type Transport } from '@ps/core';
import type { MnistRows } from '../nn/evaluate-mnist.js';
import { evaluateMnist } from '../nn/evaluate-mnist.js';
import { mnistModel } from '../nn/mnist-model.js';
import { type NnConfig, nnStepsPerEpoch, nnWorkerCount } from '../nn/nn-config.js';
import { nnTrainSettings } from '../nn/nn-train-settings.js';
import { TfjsBridge } from '../nn/tfjs-bridge.js';
import { trainNnWorker } from '../nn/train-nn-worker.js';
import { newBrowserWorkerState } from './new-browser-worker-state.js';
import type { BrowserWorkerState } from './run-browser-worker.js';

/** Options of {@link runBrowserNnWorker}. */
export interface RunBrowserNnWorkerOptions {
  /** The scheduler's WebSocket address. */
  scheduler: PeerAddress;
  /** The `pskv nn` job, as every role has it. */
  cfg: NnConfig;
  /** Makes the transport: `wsBrowser()` in a page. */
  transport: () => Transport;
  /** Sets tfjs's backend up; resolves with its name (`wasm`, `cpu`). */
  backend: () => Promise<string>;
  /** The training images of worker `rank` (a page fetches them from `pskv serve`). */
  loadShard: (rank: number) => Promise<MnistRows>;
  /** The test images (`cfg.testLimit` of them). */
  loadTest: () => Promise<MnistRows>;
  /** Called with a fresh copy of the state on every change. */
  onState?: (state: BrowserWorkerState) => void;
  /** This worker's node id; default `tab-` and 12 random hex digits. */
  id?: string;
  /** How long to wait for the whole cluster to register, in ms. Default 600,000. */
  startTimeoutMs?: number;
}

/**
 * Runs one worker of a `pskv nn` job (a tfjs model on MNIST through {@link TfjsBridge}) in a
 * browser tab, as a Node worker process does (`nnWorkerMain`): joins with apps 0 (the update
 * rule) and 1 (the initial weights), reads its shard of the training images, meets the other
 * workers at the barrier once the leader (a Node worker) set the weights, trains with
 * {@link trainNnWorker} (pull weights, push gradients; sync: one iteration a step), meets them
 * again, pulls the final weights and measures them on the test images. Its state has the fields
 * of a sparse logistic regression tab: `rowsTrain` its shard's images, `batchesTotal` its steps,
 * `loss` the last epoch's mean batch loss, `accuracy` and `logloss` on the test images (`auc`
 * stays null). Resolves with the final state; a failure ends in `status: 'failed'`.
 */
export async function runBrowserNnWorker(opts: RunBrowserNnWorkerOptions): Promise<BrowserWorkerState> {
  const { cfg } = opts;
  const t0 = performance.now();
  const state = newBrowserWorkerState(opts.id, cfg.epochs, nnStepsPerEpoch(cfg) * cfg.epochs);
  let node: PsNode | undefined;
  const emit = () => {
    if (node) {
      state.bytesSent = node.stats.bytesSent;
      state.bytesReceived = node.stats.bytesReceived;
    }
    state.seconds = (performance.now() - t0) / 1000;
    opts.onState?.({ ...state });
  };
  try {
    emit();
    state.backend = await opts.backend();
    state.status = 'joining';
    emit();
    const joined = await createWorker({
      transport: opts.transport(),
      scheduler: opts.scheduler,
      id: state.id,
      apps: [0, 1],
      dtype: 'float32',
      startTimeoutMs: opts.startTimeoutMs ?? 600_000,
    });
    node = joined.node;
    const [worker, weights] = joined.workers as [(typeof joined.workers)[0], (typeof joined.workers)[0]];
    const count = nnWorkerCount(cfg);
    state.rank = node.rank;
    state.workers = node.view.workers.length;
    const [shard, test] = await Promise.all([opts.loadShard(node.rank), opts.loadTest()]);
    state.rowsTrain = shard.count;
    state.shardRows = shard.count;
    state.rowsTest = test.count;
    const model = mnistModel(cfg.model, cfg.seed);
    const bridge = new TfjsBridge(model, {
      worker,
      weights,
      gradientScale: cfg.consistency === 'sync' ? 1 / count : 1,
    });
    // Count the gradient pushes (one per step) and their acknowledgements.
    const push = worker.push.bind(worker);
    worker.push = (kv, o) => {
      const ts = push(kv, o);
      state.pushes++;
      worker.wait(ts).then(
        () => {
          state.pushesAcked++;
        },
        () => undefined,
      );
      return ts;
    };
    // The leader (a Node worker) has set the servers' weights once every worker is here.
    await node.barrier('workers');
    state.status = 'training';
    emit();
    const res = await trainNnWorker({
      bridge,
      model,
      shard,
      ...nnTrainSettings(cfg, node.rank),
      onEpoch: ({ epoch, trainLoss }) => {
        state.epoch = epoch;
        state.loss = trainLoss;
        emit();
      },
    });
    // Every worker's last push is applied before the final weights are read.
    await node.barrier('workers');
    state.status = 'evaluating';
    emit();
    await bridge.pullWeights(cfg.consistency === 'sync' ? { iteration: res.steps } : {});
    const e = await evaluateMnist(model, cfg.model, test);
    state.accuracy = e.accuracy;
    state.logloss = e.loss;
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
