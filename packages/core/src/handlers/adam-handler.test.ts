import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import type { KVPairs } from '../wire/kv-pairs.js';
import { adamHandler } from './adam-handler.js';
import { assignWeightsHandler } from './assign-weights-handler.js';
import { pullRequest, pushRequest } from './handler-requests.test-util.js';

const keys = new BigUint64Array([1n, 2n, 5n]);
type H = (req: Parameters<ReturnType<typeof adamHandler>>[0]) => KVPairs | undefined;
const push = (h: H, g: number[], k = keys) => h(pushRequest(k, Float32Array.from(g)));
const pull = (h: H) => (h(pullRequest(keys, new Float32Array(0))) as KVPairs).vals;

const steps = [
  [0.5, -1.25, 2],
  [0.1, -0.3, 0],
  [1, 0.75, -2.5],
  [-0.2, 0.01, 0.3],
  [0, 0, 0],
  [3, -3, 0.125],
];

/** Kingma and Ba's Algorithm 1, written out plainly, state in float32 like the server's table. */
function referenceAdam(lr: number, b1: number, b2: number, eps: number, w0: number[]) {
  const w = Float32Array.from(w0);
  const m = new Float32Array(w0.length);
  const v = new Float32Array(w0.length);
  let t = 0;
  return {
    w,
    step(g: number[]) {
      t += 1;
      for (let i = 0; i < w.length; i++) {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
        const mHat = m[i]! / (1 - b1 ** t);
        const vHat = v[i]! / (1 - b2 ** t);
        w[i] = w[i]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    },
  };
}

describe('adamHandler', () => {
  it('equals the reference Algorithm 1 step for step (float32, exact)', () => {
    const h = adamHandler({ lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const ref = referenceAdam(0.01, 0.9, 0.999, 1e-8, [0, 0, 0]);
    for (const g of steps) {
      push(h, g);
      ref.step(g);
      expect(Array.from(pull(h))).toEqual(Array.from(ref.w));
    }
  });

  it('the first step moves every coordinate with a gradient by about lr times its sign', () => {
    const h = adamHandler({ lr: 0.1, dtype: 'float64', eps: 0 });
    push(h, [0.5, -1e-3, 0]);
    const w = pull(h);
    // m̂ = g and v̂ = g² after one step, so the step is exactly lr · sign(g) with ε = 0.
    expect(w[0]).toBeCloseTo(-0.1, 12);
    expect(w[1]).toBeCloseTo(0.1, 12);
    expect(Number.isNaN(w[2])).toBe(true); // 0 / 0 with ε = 0: why ε exists
  });

  it('keeps a step count per key: a key pushed later gets its own bias correction', () => {
    const h = adamHandler({ lr: 0.01, eps: 1e-8 });
    push(h, [1], new BigUint64Array([1n]));
    push(h, [1], new BigUint64Array([1n]));
    push(h, [2], new BigUint64Array([2n]));
    const w = pull(h);
    // Key 2's first update, like key 1's first: -lr · sign(g) up to ε.
    expect(w[1]).toBeCloseTo(-0.01, 6);
    const ref = referenceAdam(0.01, 0.9, 0.999, 1e-8, [0]);
    ref.step([1]);
    ref.step([1]);
    expect(w[0]).toBe(ref.w[0]);
  });

  it('starts afresh from weights set through assignWeightsHandler', () => {
    const h = adamHandler({ lr: 0.01, eps: 1e-8 });
    const init = assignWeightsHandler(h);
    push(h, [5, 5, 5]); // state to be reset
    push(init, [0.25, -0.5, 1]);
    expect(Array.from(pull(init))).toEqual([0.25, -0.5, 1]);
    const ref = referenceAdam(0.01, 0.9, 0.999, 1e-8, [0.25, -0.5, 1]);
    for (const g of steps.slice(0, 3)) {
      push(h, g);
      ref.step(g);
    }
    expect(Array.from(pull(h))).toEqual(Array.from(ref.w));
  });

  it('refuses options out of range with PS_ERR_CONFIG', () => {
    for (const opts of [{ lr: 0 }, { beta1: 1 }, { beta2: 1 }, { beta1: -0.5 }, { eps: -1 }]) {
      let err: unknown;
      try {
        adamHandler(opts);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err) && err.code).toBe(PsErrorCode.CONFIG);
    }
  });
});
