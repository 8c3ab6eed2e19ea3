import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWasmBackend } from './use-wasm-backend.js';

beforeAll(async () => {
  await useWasmBackend(); // registers the kernel
});

/** The gradient of sum(conv2d(x, w)²) with respect to w, on `backend`. */
async function filterGrad(backend: string, pad: 'valid' | 'same', stride: number): Promise<Float32Array> {
  await tf.setBackend(backend);
  const x = tf.randomNormal([4, 9, 9, 3], 0, 1, 'float32', 5);
  const w = tf.variable(tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 6));
  const { value, grads } = tf.variableGrads(
    () =>
      tf
        .conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad)
        .square()
        .sum() as tf.Scalar,
    [w],
  );
  const g = (await grads[w.name]!.data()) as Float32Array;
  tf.dispose([x, w, value, grads[w.name]!]);
  return g;
}

describe('registerWasmConvGrad', () => {
  it('gives the wasm backend a Conv2DBackpropFilter that equals the CPU backend (float32 rounding)', async () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    try {
      for (const pad of ['valid', 'same'] as const)
        for (const stride of [1]) {
          const cpu = await filterGrad('cpu', pad, stride);
          const wasm = await filterGrad('wasm', pad, stride);
          expect(wasm.length).toBe(3 * 3 * 3 * 2);
          for (let i = 0; i < cpu.length; i++)
            expect(Math.abs(wasm[i]! - cpu[i]!), `${pad} stride ${stride} element ${i}`).toBeLessThanOrEqual(
              1e-5 * Math.max(1, Math.abs(cpu[i]!)),
            );
        }
      // A stride of 2 is refused (the 3-D kernel's answer is wrong there): no silent bad gradient.
      await expect(filterGrad('wasm', 'valid', 2)).rejects.toThrow(/strides of 1 only, got \[2, 2\]/);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
