// The intercept is stored like every weight but left out of the L1/L2 penalty.
import type { KVRequest } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { BIAS_KEY, bucketsToKeys, keyBitsFor, keyToBucket } from './feature-keys.js';
import { SLR_DEFAULTS } from './slr-config.js';
import { slrHandler } from './slr-handler.js';

const keys = new BigUint64Array([...bucketsToKeys(Uint32Array.of(0, 5), 4), BIAS_KEY]);
const req = (push: boolean, pull: boolean, vals = new Float32Array(0)): KVRequest => ({
  sender: 'w',
  app: 0,
  ts: 0,
  push,
  pull,
  kv: { keys, vals },
});

describe('keyBitsFor and BIAS_KEY', () => {
  it('gives the fewest key bits for a dimension, and a bias key no bucket maps to', () => {
    expect([1, 2, 13, 16, 17, 2 ** 20].map(keyBitsFor)).toEqual([1, 1, 4, 4, 5, 20]);
    expect(BIAS_KEY).toBe(2n ** 64n - 1n);
    const top = bucketsToKeys(Uint32Array.of(2 ** 32 - 1), 32)[0]!;
    expect(top < BIAS_KEY).toBe(true);
    expect(keyToBucket(bucketsToKeys(Uint32Array.of(12), 4)[0]!, 4)).toBe(12);
  });
});

describe('slrHandler', () => {
  it('soft-thresholds the features under L1 but moves the intercept by the plain SGD step', () => {
    const h = slrHandler({ ...SLR_DEFAULTS, optimizer: 'sgd', lr: 0.5, l1: 10 });
    // A gradient of -1 everywhere: w = prox(0 + 0.5) with threshold 5 is 0; the bias becomes 0.5.
    h(req(true, false, Float32Array.of(-1, -1, -1)));
    expect(Array.from(h(req(false, true))!.vals)).toEqual([0, 0, 0.5]);
    expect(h.table.size).toBe(3);
  });

  it('leaves the intercept out of the L2 penalty, with every rule', () => {
    for (const optimizer of ['sgd', 'adagrad', 'ftrl'] as const) {
      const penalised = slrHandler({ ...SLR_DEFAULTS, optimizer, lr: 0.5, l2: 0.5 });
      const plain = slrHandler({ ...SLR_DEFAULTS, optimizer, lr: 0.5 });
      for (const h of [penalised, plain]) {
        h(req(true, false, Float32Array.of(-1, -1, -1)));
        h(req(true, false, Float32Array.of(-1, -1, -1)));
      }
      const a = penalised(req(false, true))!.vals;
      const b = plain(req(false, true))!.vals;
      // The features shrink under L2; the intercept is exactly the unpenalised one.
      expect(Math.abs(a[0]!)).toBeLessThan(Math.abs(b[0]!));
      expect(a[2]).toBe(b[2]);
      expect(b[2]).toBeGreaterThan(0);
    }
  });

  it('answers a pushPull with the updated weights, the intercept last', () => {
    const h = slrHandler({ ...SLR_DEFAULTS, optimizer: 'sgd', lr: 1, l2: 1 });
    const out = h(req(true, true, Float32Array.of(-1, 0, -2)))!;
    expect(out.keys).toBe(keys);
    expect(Array.from(out.vals)).toEqual([1, 0, 2]);
  });
});
