import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import type { KVPairs } from '../wire/kv-pairs.js';
import { pullRequest, pushRequest } from './handler-requests.test-util.js';
import { momentumHandler } from './momentum-handler.js';

const keys = new BigUint64Array([3n, 7n, 11n]);
const push = (h: ReturnType<typeof momentumHandler>, g: number[]) =>
  h(pushRequest(keys, Float32Array.from(g)));
const pull = (h: ReturnType<typeof momentumHandler>) =>
  (h(pullRequest(keys, new Float32Array(0))) as KVPairs).vals;

// Gradients of 6 steps for 3 keys.
const steps = [
  [0.5, -1.25, 2],
  [0.1, -0.3, 0],
  [1, 0.75, -2.5],
  [-0.2, 0.01, 0.3],
  [0, 0, 0],
  [3, -3, 0.125],
];

describe('momentumHandler', () => {
  it('follows v <- mu v + g, w <- w - lr v, in float32 storage', () => {
    const lr = 0.05;
    const mu = 0.9;
    const h = momentumHandler({ lr, momentum: mu });
    // The reference: the same two lines, state kept in float32 like the server's table.
    const w = new Float32Array(3);
    const v = new Float32Array(3);
    for (const g of steps) {
      push(h, g);
      for (let k = 0; k < 3; k++) {
        v[k] = mu * v[k]! + g[k]!;
        w[k] = w[k]! - lr * v[k]!;
      }
      expect(Array.from(pull(h))).toEqual(Array.from(w));
    }
  });

  it('matches hand-computed values in float64', () => {
    const h = momentumHandler({ lr: 0.5, momentum: 0.5, dtype: 'float64' });
    push(h, [1, 2, -4]);
    push(h, [1, 0, 0]);
    // v1 = g1; w1 = -0.5 g1; v2 = 0.5 g1 + g2; w2 = w1 - 0.5 v2
    expect(Array.from(pull(h))).toEqual([-0.5 - 0.75, -1 - 0.5, 2 + 1]);
  });

  it('refuses options out of range with PS_ERR_CONFIG', () => {
    for (const opts of [{ lr: 0 }, { lr: -1 }, { momentum: 1 }, { momentum: -0.1 }, { lr: Number.NaN }]) {
      let err: unknown;
      try {
        momentumHandler(opts);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err) && err.code).toBe(PsErrorCode.CONFIG);
    }
  });
});
