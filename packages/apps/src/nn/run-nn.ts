import { type ChildProcess, spawn } from 'node:child_process';
import {
  assignWeightsHandler,
  consoleLogger,
  createServer,
  logLevelFromEnv,
  PsError,
  PsErrorCode,
  type PsNode,
  Scheduler,
} from '@ps/core';
import { countPushes } from './count-pushes.js';
import { mnistModel } from './mnist-model.js';
import { type NnConfig, nnRule, nnWorkerCount } from './nn-config.js';
import { nnTransport } from './nn-transport.js';
import type { NnWorkerMessage } from './nn-worker-message.js';
import { useWasmBackend } from './use-wasm-backend.js';
import { variableKeyMap } from './variable-key-map.js';

/** The summary of a `pskv nn` job (its `--json` line). */
export interface NnSummary {
  /** Accuracy of the final model on the test images (`config.testLimit` of the 10,000). */
  test_accuracy: number;
  /** Mean softmax cross-entropy of the final model on the test images. */
  loss: number;
  /** Mean batch loss of the last epoch, over the workers. */
  train_loss: number;
  /** Wall time of the job, from the cluster's start to the final evaluation. */
  seconds: number;
  /** Training images processed by all workers per second of training (evaluation excluded). */
  examples_per_s: number;
  /** Steps of every worker together. */
  steps: number;
  /** Trainable weights of the model (keys on the servers). */
  weights: number;
  /** Per epoch: worker 0's test accuracy (null after the last: see `test_accuracy`). */
  epochs: { epoch: number; train_loss: number; test_accuracy: number | null }[];
  config: NnConfig;
  /**
   * Push requests of gradients the servers applied, per worker node id (a browser tab's starts
   * with `tab-`); in sync mode each iteration's sum counts once for each worker it holds.
   */
  push_requests_by_worker: Record<string, number>;
}

/** Options of {@link runNn}. */
export interface RunNnOptions {
  /** The script that runs a worker when called with `nn-worker` (the `pskv` CLI's own file). */
  workerScript: string;
  /** A line of progress (per epoch), for stderr. */
  onProgress?: (line: string) => void;
  /** Told the scheduler's address once it listens (browser tabs dial it). */
  onScheduler?: (at: { host: string; port: number }) => void;
  /** Tear the job down and fail after this many seconds. Default 3,600. */
  timeoutSeconds?: number;
}

/**
 * Runs a `pskv nn` job on this machine: the scheduler and the servers in this process, each
 * worker a separate OS process (`node <workerScript> nn-worker`), all over TCP on 127.0.0.1. The
 * servers hold the model's weights under the rule of `cfg.optimizer` (app 0) and set them from
 * worker 0's initial values (app 1, `@ps/core`'s `assignWeightsHandler`). Every worker process is killed
 * by pid when the job ends, fails or times out.
 * @throws PsError `PS_ERR_HANDLER` when a worker process fails (its exit status in the message),
 *   `PS_ERR_TIMEOUT` at the time limit.
 */
export async function runNn(cfg: NnConfig, opts: RunNnOptions): Promise<NnSummary> {
  const t0 = performance.now();
  // The model's key map, for the servers' tables: its keys stored by index, not hashed.
  await useWasmBackend(1);
  const model = mnistModel(cfg.model, cfg.seed);
  const keys = variableKeyMap(
    model.trainableWeights.map((w) => ({ name: w.name, shape: w.shape as number[] })),
  );
  model.dispose();
  const sync = cfg.consistency === 'sync';
  const scheduler = await Scheduler.start({
    transport: nnTransport(cfg),
    host: '127.0.0.1',
    port: 0,
    numServers: cfg.servers,
    numWorkers: nnWorkerCount(cfg),
    sync,
    // A worker's step is synchronous WebAssembly; under load one may stall: not a dead node.
    heartbeatTimeoutMs: 30_000,
    logger: consoleLogger('ps-scheduler', process.env.PS_LOG_LEVEL ? logLevelFromEnv() : 'error'),
  });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  opts.onScheduler?.(at);
  // Push requests per worker node id (tabs too), for the summary.
  const pushes: Record<string, number> = {};
  const servers = Array.from({ length: cfg.servers }, () => {
    const rule = nnRule(cfg, keys);
    let self: PsNode | undefined;
    const started = createServer({
      transport: nnTransport(cfg),
      scheduler: at,
      host: '127.0.0.1',
      handler: { 0: countPushes(rule, pushes, () => self), 1: assignWeightsHandler(rule) },
      sync: { 1: false },
      logger: consoleLogger('ps-server', process.env.PS_LOG_LEVEL ? logLevelFromEnv() : 'error'),
    });
    started.then(
      (s) => {
        self = s.node;
      },
      () => undefined,
    );
    return started;
  });
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  };
  const epochs = new Map<number, { losses: number[]; acc: number | null }>();
  const done: Extract<NnWorkerMessage, { type: 'done' }>[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let exited = 0;
    const finished = new Promise<void>((resolve, reject) => {
      for (let i = 0; i < cfg.workers; i++) {
        const child = spawn(process.execPath, [...process.execArgv, opts.workerScript, 'nn-worker'], {
          stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
          env: { ...process.env, PS_NN_CONFIG: JSON.stringify(cfg), PS_NN_SCHEDULER_PORT: String(at.port) },
        });
        children.push(child);
        // A worker's stdout (tfjs notes) goes to stderr: stdout is the job's answer.
        child.stdout?.pipe(process.stderr);
        child.on('message', (m: NnWorkerMessage) => {
          if (m.type === 'epoch') {
            const e = epochs.get(m.epoch) ?? { losses: [], acc: null };
            e.losses.push(m.trainLoss);
            if (m.test) e.acc = m.test.accuracy;
            epochs.set(m.epoch, e);
            if (m.test)
              opts.onProgress?.(
                `epoch ${m.epoch}/${cfg.epochs}: worker 0 train loss ${m.trainLoss.toFixed(4)}, test accuracy ${m.test.accuracy.toFixed(4)}`,
              );
            else if (m.rank === 0)
              opts.onProgress?.(
                `epoch ${m.epoch}/${cfg.epochs}: worker 0 train loss ${m.trainLoss.toFixed(4)}`,
              );
          } else {
            done.push(m);
          }
        });
        child.on('exit', (code, signal) => {
          if (code === 0 && ++exited === cfg.workers) resolve();
          else if (code !== 0)
            reject(
              new PsError(
                PsErrorCode.HANDLER,
                `pskv nn: a worker process exited with ${signal ?? `status ${code}`}; see its messages above`,
              ),
            );
        });
      }
    });
    const limit = (opts.timeoutSeconds ?? 3600) * 1000;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new PsError(PsErrorCode.TIMEOUT, `pskv nn: the job did not finish in ${limit / 1000} s`)),
        limit,
      );
    });
    const nodes = await Promise.race([Promise.all(servers), timeout]);
    await Promise.race([finished, timeout]);
    // The workers finalized: the scheduler shuts the cluster down.
    await Promise.race([
      Promise.all([scheduler.terminated, ...nodes.map((n) => n.node.terminated)]),
      timeout,
    ]);
  } catch (err) {
    killAll();
    await scheduler.shutdown();
    await Promise.allSettled(servers.map(async (p) => (await p).node.close()));
    throw err;
  } finally {
    clearTimeout(timer);
    killAll();
  }
  const seconds = (performance.now() - t0) / 1000;
  const final = done.find((d) => d.final)?.final;
  if (!final) throw new PsError(PsErrorCode.HANDLER, 'pskv nn: worker 0 reported no final evaluation');
  const examples = done.reduce((a, d) => a + d.examples, 0);
  const trainSeconds = Math.max(...done.map((d) => d.trainSeconds));
  return {
    test_accuracy: final.accuracy,
    loss: final.loss,
    train_loss: done.reduce((a, d) => a + d.trainLoss, 0) / done.length,
    seconds,
    examples_per_s: examples / trainSeconds,
    steps: done.reduce((a, d) => a + d.steps, 0),
    weights: done[0]!.weights,
    epochs: [...epochs.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([epoch, e]) => ({
        epoch,
        train_loss: e.losses.reduce((a, b) => a + b, 0) / e.losses.length,
        test_accuracy: e.acc,
      })),
    config: cfg,
    push_requests_by_worker: pushes,
  };
}
