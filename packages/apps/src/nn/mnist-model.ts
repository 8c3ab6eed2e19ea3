import * as tf from '@tensorflow/tfjs';

/** The two MNIST models of `pskv nn`: a multi-layer perceptron and a small ConvNet. */
export type MnistModelKind = 'mlp' | 'cnn';

/**
 * A model for 28 × 28 MNIST digits that outputs 10 logits (no softmax: train it with
 * `tf.losses.softmaxCrossEntropy`), its initial weights drawn from `seed` (Glorot uniform kernels,
 * zero biases), so every worker builds the same layout.
 *
 * - `mlp`: input `[784]` → dense 128 ReLU → dense 10: 101,770 weights.
 * - `cnn`: input `[28, 28, 1]` → conv 5×5 × 8 ReLU → max-pool 2 → conv 5×5 × 16 ReLU → max-pool 2
 *   → dense 10: 5,994 weights (the shape of Ray's parameter-server ConvNet, smaller).
 *
 * Browser-safe (no Node module).
 */
export function mnistModel(kind: MnistModelKind, seed = 1): tf.LayersModel {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 16 + k });
  const m = tf.sequential();
  if (kind === 'mlp') {
    m.add(tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: init(0) }));
    m.add(tf.layers.dense({ units: 10, kernelInitializer: init(1) }));
    return m;
  }
  m.add(
    tf.layers.conv2d({
      inputShape: [28, 28, 1],
      filters: 8,
      kernelSize: 5,
      activation: 'relu',
      kernelInitializer: init(0),
    }),
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: init(1) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 10, kernelInitializer: init(2) }));
  return m;
}

/** The input shape of one batch of `n` images for a model of `kind`. */
export function mnistInputShape(kind: MnistModelKind, n: number): number[] {
  return kind === 'mlp' ? [n, 784] : [n, 28, 28, 1];
}
