import * as tf from '@tensorflow/tfjs';
import { seededPermutation } from '../data/split.js';
import type { MnistRows } from './evaluate-mnist.js';
import { type MnistModelKind, mnistInputShape } from './mnist-model.js';
import type { TfjsBridge } from './tfjs-bridge.js';

/** Options of {@link trainNnWorker}. */
export interface TrainNnWorkerOptions {
  /** The bridge of this worker's model (weights already on the servers, see TfjsBridge). */
  bridge: TfjsBridge;
  model: tf.LayersModel;
  kind: MnistModelKind;
  /** This worker's shard of the training images. */
  shard: MnistRows;
  batchSize: number;
  epochs: number;
  /**
   * Steps per epoch, the same on every worker (sync mode needs every worker to push every
   * iteration): at most `floor(shard.count / batchSize)`.
   */
  stepsPerEpoch: number;
  /** `sync`: step t pulls and pushes iteration t; `eventual`: no iterations. */
  consistency: 'sync' | 'eventual';
  /** Seed of the per-epoch shuffle of the shard. */
  seed: number;
  /**
   * Called after each epoch with the weights of its end pulled into the model (sync: once every
   * worker's last push of the epoch is applied); the time it takes is not training time.
   */
  onEpoch?: (e: { epoch: number; trainLoss: number }) => void | Promise<void>;
}

/** What {@link trainNnWorker} did. */
export interface TrainNnWorkerResult {
  steps: number;
  examples: number;
  /** Mean batch loss of the last epoch. */
  trainLoss: number;
  /** Seconds spent training (pull, gradients, push), not in `onEpoch`. */
  trainSeconds: number;
}

/**
 * One worker's training loop on MNIST through a {@link TfjsBridge}: per epoch a seeded shuffle of
 * its shard, then `stepsPerEpoch` steps of `batchSize` images (pull weights, gradients of the
 * softmax cross-entropy, push). Browser-safe: the data come in as arrays.
 */
export async function trainNnWorker(opts: TrainNnWorkerOptions): Promise<TrainNnWorkerResult> {
  const { bridge, model, kind, shard, batchSize: b, stepsPerEpoch } = opts;
  const xBuf = new Float32Array(b * 784);
  const yBuf = new Int32Array(b);
  let steps = 0;
  let trainLoss = Number.NaN;
  let trainMs = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const t0 = performance.now();
    const order = seededPermutation(shard.count, opts.seed * 1000 + epoch);
    let sum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      for (let i = 0; i < b; i++) {
        const row = order[s * b + i]!;
        xBuf.set(shard.images.subarray(row * 784, row * 784 + 784), i * 784);
        yBuf[i] = shard.labels[row]!;
      }
      const iteration = opts.consistency === 'sync' ? steps : undefined;
      const x = tf.tensor(xBuf, mnistInputShape(kind, b));
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(yBuf, 'int32'), 10));
      const loss = () =>
        tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
      const { loss: l } = await bridge.step(loss, iteration === undefined ? {} : { iteration });
      x.dispose();
      y.dispose();
      sum += l;
      steps++;
    }
    await bridge.flush();
    trainMs += performance.now() - t0;
    trainLoss = sum / stepsPerEpoch;
    if (opts.onEpoch) {
      await bridge.pullWeights(opts.consistency === 'sync' ? { iteration: steps } : {});
      await opts.onEpoch({ epoch: epoch + 1, trainLoss });
    }
  }
  return { steps, examples: steps * b, trainLoss, trainSeconds: trainMs / 1000 };
}
