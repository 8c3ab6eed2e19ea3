import * as tf from '@tensorflow/tfjs';
import { type MnistModelKind, mnistInputShape } from './mnist-model.js';

/** Images and their digits, `count` images of 784 pixels each. */
export interface MnistRows {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/**
 * Accuracy and mean softmax cross-entropy of `model` on `rows`, in chunks of `chunk` images (the
 * event loop runs between chunks, so heartbeats go on during a long evaluation). Browser-safe.
 */
export async function evaluateMnist(
  model: tf.LayersModel,
  kind: MnistModelKind,
  rows: MnistRows,
  chunk = 1000,
): Promise<{ accuracy: number; loss: number }> {
  let correct = 0;
  let lossSum = 0;
  for (let at = 0; at < rows.count; at += chunk) {
    const n = Math.min(chunk, rows.count - at);
    const [hits, loss] = tf.tidy(() => {
      const x = tf.tensor(rows.images.subarray(at * 784, (at + n) * 784), mnistInputShape(kind, n));
      const y = tf.tensor1d(rows.labels.subarray(at, at + n), 'int32');
      const logits = model.predict(x) as tf.Tensor;
      const hit = tf.equal(tf.argMax(logits, 1), y).sum();
      const l = tf.losses.softmaxCrossEntropy(
        tf.oneHot(y, 10),
        logits,
        undefined,
        undefined,
        tf.Reduction.SUM,
      );
      return [hit, l];
    });
    const [h, l] = await Promise.all([hits.data(), loss.data()]);
    hits.dispose();
    loss.dispose();
    correct += h[0]!;
    lossSum += l[0]!;
    await new Promise((r) => setTimeout(r, 0));
  }
  return { accuracy: correct / rows.count, loss: lossSum / rows.count };
}
