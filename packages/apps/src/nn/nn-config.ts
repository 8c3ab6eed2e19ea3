import {
  adamHandler,
  type DenseRange,
  momentumHandler,
  PsError,
  PsErrorCode,
  sgdHandler,
  type TableHandler,
} from '@ps/core';
import type { MnistModelKind } from './mnist-model.js';
import type { VariableKeyMap } from './variable-key-map.js';

/** The configuration of a `pskv nn` job. */
export interface NnConfig {
  dataset: 'mnist';
  model: MnistModelKind;
  /** Worker processes. */
  workers: number;
  /** Server nodes (in the launcher's process). */
  servers: number;
  consistency: 'sync' | 'eventual';
  /** The update rule on the servers. */
  optimizer: 'sgd' | 'momentum' | 'adam';
  /** Its learning rate (default per rule: SGD 0.1, momentum 0.01, Adam 0.002). */
  lr: number;
  epochs: number;
  /** Images per step per worker. */
  batchSize: number;
  /** Train on the first this many of the 60,000 training images (default all). */
  trainLimit: number;
  /** Test on the first this many of the 10,000 test images (default all). */
  testLimit: number;
  /** Seed of the initial weights and of the shuffles. */
  seed: number;
  /**
   * Workers that join from browser tabs besides `workers` (default 0): the job then runs over
   * WebSocket and serves the tabs' page (see docs/browser-workers.md).
   */
  browserWorkers: number;
}

/** Every worker of a job: the Node worker processes and the browser tabs. */
export function nnWorkerCount(cfg: Pick<NnConfig, 'workers' | 'browserWorkers'>): number {
  return cfg.workers + (cfg.browserWorkers ?? 0);
}

/** Learning rates by rule when `--lr` is not given. */
export const NN_DEFAULT_LR = { sgd: 0.1, momentum: 0.01, adam: 0.002 } as const;

/**
 * Fills in the defaults (MLP, 2 workers, 1 server, sync, Adam, 4 epochs, batch 64, all of MNIST,
 * seed 1) and checks the ranges.
 * @throws PsError `PS_ERR_CONFIG` for a value out of range; the message names the option.
 */
export function resolveNnConfig(o: Partial<NnConfig>): NnConfig {
  const optimizer = o.optimizer ?? 'adam';
  const cfg: NnConfig = {
    dataset: o.dataset ?? 'mnist',
    model: o.model ?? 'mlp',
    workers: o.workers ?? 2,
    servers: o.servers ?? 1,
    consistency: o.consistency ?? 'sync',
    optimizer,
    lr: o.lr ?? NN_DEFAULT_LR[optimizer],
    epochs: o.epochs ?? 4,
    batchSize: o.batchSize ?? 64,
    trainLimit: o.trainLimit ?? 60_000,
    testLimit: o.testLimit ?? 10_000,
    seed: o.seed ?? 1,
    browserWorkers: o.browserWorkers ?? 0,
  };
  const bad = (opt: string, want: string, got: unknown) =>
    new PsError(PsErrorCode.CONFIG, `--${opt} must be ${want}, got ${String(got)}`);
  const intIn = (opt: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw bad(opt, `an integer from ${lo} to ${hi}`, v);
  };
  if (cfg.dataset !== 'mnist') throw bad('dataset', 'mnist', cfg.dataset);
  if (cfg.model !== 'mlp' && cfg.model !== 'cnn') throw bad('model', 'mlp or cnn', cfg.model);
  if (cfg.consistency !== 'sync' && cfg.consistency !== 'eventual')
    throw bad('consistency', 'sync or eventual', cfg.consistency);
  if (!(cfg.optimizer in NN_DEFAULT_LR)) throw bad('optimizer', 'sgd, momentum or adam', cfg.optimizer);
  if (!Number.isFinite(cfg.lr) || cfg.lr <= 0) throw bad('lr', 'a number > 0', cfg.lr);
  intIn('workers', cfg.workers, 1, 64);
  intIn('servers', cfg.servers, 1, 64);
  intIn('epochs', cfg.epochs, 1, 1000);
  intIn('batch-size', cfg.batchSize, 1, 60_000);
  intIn('train-limit', cfg.trainLimit, 1, 60_000);
  intIn('test-limit', cfg.testLimit, 1, 10_000);
  intIn('seed', cfg.seed, 0, 2 ** 31 - 1);
  intIn('browser-workers', cfg.browserWorkers, 0, 64);
  if (Math.floor(cfg.trainLimit / nnWorkerCount(cfg)) < cfg.batchSize)
    throw new PsError(
      PsErrorCode.CONFIG,
      `--train-limit ${cfg.trainLimit} gives each of ${nnWorkerCount(cfg)} workers fewer images than one batch of ${cfg.batchSize}; raise --train-limit or lower --batch-size`,
    );
  return cfg;
}

/**
 * The servers' update rule of a job. With `keys` (the model's key map) the table stores those
 * keys by index, hashing none (`@ps/core`'s `DenseRange`).
 */
export function nnRule(cfg: NnConfig, keys?: Pick<VariableKeyMap, 'shift' | 'total'>): TableHandler {
  const denseRange: DenseRange | undefined = keys ? { shift: keys.shift, count: keys.total } : undefined;
  if (cfg.optimizer === 'sgd') return sgdHandler({ lr: cfg.lr, denseRange });
  if (cfg.optimizer === 'momentum') return momentumHandler({ lr: cfg.lr, momentum: 0.9, denseRange });
  return adamHandler({ lr: cfg.lr, denseRange });
}

/** Steps per epoch of every worker: each gets `floor(trainLimit / workers)` images (tabs count). */
export function nnStepsPerEpoch(cfg: NnConfig): number {
  return Math.floor(Math.floor(cfg.trainLimit / nnWorkerCount(cfg)) / cfg.batchSize);
}
