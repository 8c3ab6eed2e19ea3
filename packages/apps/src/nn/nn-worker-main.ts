import { consoleLogger, createWorker, logLevelFromEnv, PsError, PsErrorCode } from '@ps/core';
import { loadMnist } from '../data/load-mnist.js';
import { evaluateMnist } from './evaluate-mnist.js';
import { mnistModel } from './mnist-model.js';
import { type NnConfig, nnWorkerCount } from './nn-config.js';
import { nnLeader } from './nn-leader.js';
import { nnTrainSettings } from './nn-train-settings.js';
import { nnTransport } from './nn-transport.js';
import type { NnWorkerMessage } from './nn-worker-message.js';
import { TfjsBridge } from './tfjs-bridge.js';
import { trainNnWorker } from './train-nn-worker.js';
import { useWasmBackend } from './use-wasm-backend.js';

/**
 * The body of one `pskv nn` worker process (started by {@link runNn} with the job in
 * `PS_NN_CONFIG` and the scheduler's port in `PS_NN_SCHEDULER_PORT`): joins the cluster over TCP
 * on 127.0.0.1, loads its shard of MNIST, trains, and reports to its parent over the IPC channel.
 * Rank 0 also sets the initial weights and evaluates on the test images.
 */
export async function nnWorkerMain(): Promise<void> {
  const send = (m: NnWorkerMessage) =>
    new Promise<void>((resolve) =>
      process.send ? process.send(m, undefined, undefined, () => resolve()) : resolve(),
    );
  const cfg = JSON.parse(process.env.PS_NN_CONFIG ?? 'null') as NnConfig | null;
  const port = Number(process.env.PS_NN_SCHEDULER_PORT);
  if (!cfg || !Number.isInteger(port))
    throw new PsError(PsErrorCode.CONFIG, 'pskv nn-worker is started by `pskv nn`, not by hand');
  // The launcher gone (killed, crashed): nothing is left to report to, so stop.
  let finished = false;
  process.once('disconnect', () => {
    if (!finished) process.exit(1);
  });
  await useWasmBackend(1);
  const data = await loadMnist({ trainLimit: cfg.trainLimit, testLimit: cfg.testLimit });
  const { node, workers } = await createWorker({
    transport: nnTransport(cfg),
    scheduler: { host: '127.0.0.1', port },
    apps: [0, 1],
    dtype: 'float32',
    logger: consoleLogger(`nn-worker`, process.env.PS_LOG_LEVEL ? logLevelFromEnv() : 'warn'),
  });
  const rank = node.rank;
  // Sets the weights and evaluates: rank 0, or with browser tabs the first Node worker.
  const leader = nnLeader(node);
  const count = nnWorkerCount(cfg);
  const model = mnistModel(cfg.model, cfg.seed);
  const bridge = new TfjsBridge(model, {
    worker: workers[0]!,
    weights: workers[1]!,
    gradientScale: cfg.consistency === 'sync' ? 1 / count : 1,
  });
  if (leader) await bridge.pushWeights();
  await node.barrier('workers');
  const per = Math.floor(data.train.count / count);
  const shard = {
    images: data.train.images.subarray(rank * per * 784, (rank + 1) * per * 784),
    labels: data.train.labels.subarray(rank * per, (rank + 1) * per),
    count: per,
  };
  const t0 = performance.now();
  const res = await trainNnWorker({
    bridge,
    model,
    shard,
    ...nnTrainSettings(cfg, rank),
    onEpoch: async ({ epoch, trainLoss }) => {
      const ev = leader && epoch < cfg.epochs ? await evaluateMnist(model, cfg.model, data.test) : undefined;
      await send({ type: 'epoch', rank, epoch, trainLoss, test: ev });
    },
  });
  // Every worker's last push is applied before rank 0 reads the final weights.
  await node.barrier('workers');
  let final: { accuracy: number; loss: number } | undefined;
  if (leader) {
    await bridge.pullWeights(cfg.consistency === 'sync' ? { iteration: res.steps } : {});
    final = await evaluateMnist(model, cfg.model, data.test);
  }
  send({
    type: 'done',
    rank,
    ...res,
    weights: bridge.keyMap.total,
    wallSeconds: (performance.now() - t0) / 1000,
    final,
  });
  await node.finalize();
  finished = true;
  // The IPC channel would keep this process alive.
  process.disconnect?.();
}
