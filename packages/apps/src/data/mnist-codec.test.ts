import { describe, expect, it } from 'vitest';
import { resolveNnConfig } from '../nn/nn-config.js';
import { nnWorkerQuery, parseNnWorkerQuery } from '../web/nn-worker-query.js';
import { decodeMnistRows, encodeMnistRows } from './mnist-codec.js';

describe('MNIST rows codec', () => {
  it('round-trips images and labels, and reads anything else as undefined', () => {
    const images = Float32Array.from({ length: 3 * 784 }, (_, i) => (i % 256) / 255);
    const rows = { images, labels: Uint8Array.of(7, 0, 9), count: 3 };
    const bytes = encodeMnistRows(rows);
    expect(bytes.length).toBe(16 + 3 * 784 * 4 + 3);
    expect(decodeMnistRows(bytes)).toEqual(rows);
    expect(decodeMnistRows(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    const badLabel = bytes.slice();
    badLabel[bytes.length - 1] = 10;
    expect(decodeMnistRows(badLabel)).toBeUndefined();
    const foreign = bytes.slice();
    foreign[0] = 0;
    expect(decodeMnistRows(foreign)).toBeUndefined();
  });
});

describe('pskv nn page query', () => {
  it('carries the scheduler and the job, checked as pskv nn checks it', () => {
    const cfg = resolveNnConfig({ workers: 1, browserWorkers: 1, trainLimit: 4000, lr: 0.01 });
    const q = nnWorkerQuery({ host: '127.0.0.1', port: 9000 }, cfg);
    expect(parseNnWorkerQuery(q)).toEqual({ scheduler: { host: '127.0.0.1', port: 9000 }, cfg });
    expect(() => parseNnWorkerQuery('scheduler=h:1&nn=%7B')).toThrow(/'nn' must be the job's JSON object/);
    expect(() => parseNnWorkerQuery('scheduler=h:1&nn=%7B%22epochs%22%3A0%7D')).toThrow(/--epochs must be/);
  });
});
