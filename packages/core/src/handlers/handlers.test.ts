import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import type { RequestHandler } from '../kv-server.js';
import type { KVPairs } from '../wire/kv-pairs.js';
import { adagradHandler } from './adagrad-handler.js';
import { assignHandler } from './assign-handler.js';
import { ftrlHandler } from './ftrl-handler.js';
import { pullRequest, pushRequest } from './handler-requests.test-util.js';
import { sgdHandler } from './sgd-handler.js';

const key = new BigUint64Array([42n]);
const push = (h: RequestHandler, g: number) => h(pushRequest(key, Float64Array.of(g)));
const weight = (h: RequestHandler) => (h(pullRequest(key, new Float64Array(0))) as KVPairs).vals[0]!;
const grads = [0.5, -1.25, 2, 0.1, -0.3, 0, 1];

describe('built-in update rules follow their formulas', () => {
  it('assign keeps the last value', () => {
    const h = assignHandler({ dtype: 'float64' });
    for (const g of grads) push(h, g);
    expect(weight(h)).toBe(1);
  });

  it('SGD with L1 and L2', () => {
    const lr = 0.1;
    const l1 = 0.05;
    const l2 = 0.01;
    const h = sgdHandler({ lr, l1, l2, dtype: 'float64' });
    let w = 0;
    for (const g of grads) {
      const n = w - lr * (g + l2 * w);
      w = Math.sign(n) * Math.max(Math.abs(n) - lr * l1, 0);
      push(h, g);
    }
    expect(weight(h)).toBeCloseTo(w, 12);
  });

  it('AdaGrad', () => {
    const h = adagradHandler({ lr: 0.5, dtype: 'float64' });
    let w = 0;
    let acc = 0;
    for (const g of grads) {
      acc += g * g;
      w -= (0.5 * g) / (Math.sqrt(acc) + 1e-8);
      push(h, g);
    }
    expect(weight(h)).toBeCloseTo(w, 12);
  });

  it('AdaGrad on scattered keys of a dense range (the hashed-features path) matches the formula', () => {
    const [lr, l1, l2] = [0.3, 0.01, 0.02];
    const h = adagradHandler({ lr, l1, l2, denseRange: { base: 0n, shift: 44, count: 2 ** 20 } });
    const buckets = [3, 17, 1000, 65_536, 1_048_575];
    const keys = BigUint64Array.from(buckets, (b) => BigInt(b) << 44n);
    const w = new Float64Array(buckets.length);
    const acc = new Float64Array(buckets.length);
    for (let step = 0; step < grads.length; step++) {
      const g = Float32Array.from(buckets, (_, i) => grads[(step + i) % grads.length]! * (i + 1));
      for (let i = 0; i < buckets.length; i++) {
        // The table stores float32: the reference rounds where the table does.
        const gi = g[i]! + l2 * w[i]!;
        const hi = acc[i]! + gi * gi;
        acc[i] = Math.fround(hi);
        const rate = lr / (Math.sqrt(hi) + 1e-8);
        const next = w[i]! - rate * gi;
        w[i] = Math.fround(Math.sign(next) * Math.max(Math.abs(next) - rate * l1, 0));
      }
      h({ sender: 'w', app: 0, ts: step, push: true, pull: false, kv: { keys, vals: g } });
    }
    const pulled = h({
      sender: 'w',
      app: 0,
      ts: 99,
      push: false,
      pull: true,
      kv: { keys, vals: new Float32Array(0) },
    });
    expect(Array.from((pulled as KVPairs).vals)).toEqual(Array.from(w));
  });

  it('FTRL-Proximal (McMahan et al. 2013, Algorithm 1)', () => {
    const [alpha, beta, l1, l2] = [0.2, 1, 0.3, 0.1];
    const h = ftrlHandler({ alpha, beta, l1, l2, dtype: 'float64' });
    let z = 0;
    let n = 0;
    const w = () => (Math.abs(z) <= l1 ? 0 : -(z - Math.sign(z) * l1) / ((beta + Math.sqrt(n)) / alpha + l2));
    for (const g of grads) {
      const sigma = (Math.sqrt(n + g * g) - Math.sqrt(n)) / alpha;
      z += g - sigma * w();
      n += g * g;
      push(h, g);
    }
    expect(weight(h)).toBeCloseTo(w(), 12);
    expect(w()).not.toBe(0);
  });

  it('refuses nonsense options with PS_ERR_CONFIG', () => {
    for (const make of [
      () => sgdHandler({ lr: 0 }),
      () => adagradHandler({ l1: -1 }),
      () => ftrlHandler({ alpha: Number.NaN }),
    ]) {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
    }
  });
});
