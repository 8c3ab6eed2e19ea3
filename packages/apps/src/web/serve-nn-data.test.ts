import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Mnist } from '../data/load-mnist.js';
import { decodeMnistRows } from '../data/mnist-codec.js';
import { resolveNnConfig } from '../nn/nn-config.js';
import { nnWorkerQuery } from './nn-worker-query.js';
import { nnDataRoute } from './serve-nn-data.js';

/** 10 training images whose pixels all hold their index / 255, and 4 test images. */
function tinyMnist(trainLimit: number, testLimit: number): Mnist {
  const split = (count: number) => ({
    images: Float32Array.from({ length: count * 784 }, (_, i) => Math.floor(i / 784) / 255),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
    count,
    rows: 28,
    cols: 28,
  });
  return { train: split(Math.min(10, trainLimit)), test: split(Math.min(4, testLimit)) };
}

describe('nnDataRoute', () => {
  it('sends worker R the R-th share of the training images and the test images, in binary form', async () => {
    const loads: string[] = [];
    const route = nnDataRoute(async ({ trainLimit, testLimit }) => {
      loads.push(`${trainLimit}/${testLimit}`);
      return tinyMnist(trainLimit, testLimit);
    });
    const cfg = resolveNnConfig({
      workers: 2,
      browserWorkers: 1,
      trainLimit: 10,
      testLimit: 4,
      batchSize: 2,
    });
    const q = `?${nnWorkerQuery({ host: '127.0.0.1', port: 1 }, cfg)}`;
    // 3 workers share 10 images: 3 each, worker 2 gets images 6, 7, 8.
    const shard = await route('/data/nn/train', `${q}&rank=2`, false);
    expect(shard?.status).toBe(200);
    const rows = decodeMnistRows(shard!.body)!;
    expect(rows.count).toBe(3);
    expect(Array.from(rows.labels)).toEqual([6, 7, 8]);
    expect(rows.images[0]).toBeCloseTo(6 / 255, 6);
    const test = await route('/data/nn/test', q, true);
    expect(test?.headers).toEqual({ 'content-encoding': 'gzip' });
    expect(decodeMnistRows(gunzipSync(test!.body))!.count).toBe(4);
    // MNIST is read once for both.
    expect(loads).toEqual(['10/4']);
    expect((await route('/data/nn/train', `${q}&rank=3`, false))?.status).toBe(400);
    expect((await route('/data/nn/train', '?scheduler=h:1', false))?.status).toBe(400);
    expect(await route('/data/slr/train', q, false)).toBeUndefined();
  });
});
