import { type NnConfig, nnStepsPerEpoch } from './nn-config.js';
import type { TrainNnWorkerOptions } from './train-nn-worker.js';

/**
 * What `trainNnWorker` takes from the job for the worker of rank `rank` (a Node worker process
 * or a browser tab alike): the model's kind, the batch size, the epochs and their steps, the
 * consistency, and the shuffle's seed (`cfg.seed * 64 + rank`).
 */
export function nnTrainSettings(
  cfg: NnConfig,
  rank: number,
): Pick<TrainNnWorkerOptions, 'kind' | 'batchSize' | 'epochs' | 'stepsPerEpoch' | 'consistency' | 'seed'> {
  return {
    kind: cfg.model,
    batchSize: cfg.batchSize,
    epochs: cfg.epochs,
    stepsPerEpoch: nnStepsPerEpoch(cfg),
    consistency: cfg.consistency,
    seed: cfg.seed * 64 + rank,
  };
}
