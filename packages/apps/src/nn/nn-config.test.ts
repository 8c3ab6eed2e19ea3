import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { nnStepsPerEpoch, resolveNnConfig } from './nn-config.js';

describe('resolveNnConfig', () => {
  it('fills in the defaults, the learning rate by rule', () => {
    expect(resolveNnConfig({})).toEqual({
      dataset: 'mnist',
      model: 'mlp',
      workers: 2,
      servers: 1,
      consistency: 'sync',
      optimizer: 'adam',
      lr: 0.002,
      epochs: 4,
      batchSize: 64,
      trainLimit: 60_000,
      testLimit: 10_000,
      seed: 1,
      browserWorkers: 0,
    });
    expect(resolveNnConfig({ optimizer: 'sgd' }).lr).toBe(0.1);
    expect(resolveNnConfig({ optimizer: 'momentum' }).lr).toBe(0.01);
    expect(nnStepsPerEpoch(resolveNnConfig({}))).toBe(468); // 30,000 images per worker, batches of 64
  });

  it('refuses values out of range with PS_ERR_CONFIG naming the option', () => {
    const cases: [object, RegExp][] = [
      [{ workers: 0 }, /--workers must be an integer from 1 to 64, got 0/],
      [{ lr: -1 }, /--lr must be a number > 0/],
      [{ model: 'rnn' }, /--model must be mlp or cnn/],
      [{ consistency: 'bounded' }, /--consistency must be sync or eventual/],
      [{ testLimit: 10_001 }, /--test-limit must be an integer from 1 to 10000/],
      [{ trainLimit: 100, batchSize: 64 }, /raise --train-limit or lower --batch-size/],
    ];
    for (const [opts, message] of cases) {
      let err: unknown;
      try {
        resolveNnConfig(opts);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err) && err.code, JSON.stringify(opts)).toBe(PsErrorCode.CONFIG);
      expect((err as Error).message).toMatch(message);
    }
  });
});
