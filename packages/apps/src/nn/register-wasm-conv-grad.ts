import * as tf from '@tensorflow/tfjs';

/**
 * Gives tfjs's WebAssembly backend the kernel it lacks for training a ConvNet:
 * `Conv2DBackpropFilter` (the gradient of a 2-D convolution with respect to its filter; 4.22.0
 * registers the 3-D one only). It runs the 2-D case as the 3-D kernel on a depth of 1 (NHWC,
 * `valid` or `same` padding, no dilation: what `tf.layers.conv2d` training uses). Idempotent;
 * browser-safe. Call it once before training a model with a `conv2d` layer on the `wasm` backend.
 */
export function registerWasmConvGrad(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const { strides, pad, filterShape, dataFormat } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      if (dataFormat !== 'NHWC' || (pad !== 'valid' && pad !== 'same'))
        throw new Error(
          `Conv2DBackpropFilter on wasm: only NHWC with 'valid' or 'same' padding, got ${dataFormat} ${JSON.stringify(pad)}`,
        );
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      const e = tf.engine();
      const run = (name: string, ins: tf.NamedTensorMap, at: object) =>
        e.runKernel(name, ins, at as unknown as tf.NamedAttrMap) as tf.Tensor;
      const x5 = run('Reshape', { x: x as tf.Tensor }, { shape: [x.shape[0], 1, ...x.shape.slice(1)] });
      const dy5 = run('Reshape', { x: dy as tf.Tensor }, { shape: [dy.shape[0], 1, ...dy.shape.slice(1)] });
      const f5 = run(
        'Conv3DBackpropFilterV2',
        { x: x5, dy: dy5 },
        { strides: [1, sh, sw], pad, filterShape: [1, ...filterShape] },
      );
      return run('Reshape', { x: f5 }, { shape: [...filterShape] });
    },
  });
}
