import { loadMnist, type Mnist } from '../data/load-mnist.js';
import { encodeMnistRows } from '../data/mnist-codec.js';
import { nnWorkerCount } from '../nn/nn-config.js';
import { bytesAnswer, textAnswer } from './data-answers.js';
import { parseNnWorkerQuery } from './nn-worker-query.js';
import type { DataAnswer } from './serve-slr-data.js';

/**
 * A `pskv nn` job's MNIST rows for browser workers: `GET /data/nn/train?<job>&rank=R` the
 * training shard of worker R (the images a Node worker of rank R trains: the R-th
 * `floor(trainLimit / workers)` of the first `trainLimit`), `/data/nn/test?<job>` the first
 * `testLimit` test images, each one `application/octet-stream` body (`encodeMnistRows`), gzipped
 * when the client accepts it. `<job>` is the page's query (`nnWorkerQuery`). Returns undefined
 * for another path.
 */
export function nnDataRoute(
  load: (o: { trainLimit: number; testLimit: number }) => Promise<Mnist> = loadMnist,
) {
  const loaded = new Map<string, Promise<Mnist>>();
  return async (path: string, search: string, gzip: boolean): Promise<DataAnswer | undefined> => {
    if (path !== '/data/nn/train' && path !== '/data/nn/test') return undefined;
    let job: ReturnType<typeof parseNnWorkerQuery>;
    try {
      job = parseNnWorkerQuery(search);
    } catch (err) {
      return textAnswer(400, err instanceof Error ? err.message : String(err));
    }
    const { cfg } = job;
    const count = nnWorkerCount(cfg);
    const rank = Number(new URLSearchParams(search).get('rank'));
    if (path === '/data/nn/train' && !(Number.isInteger(rank) && rank >= 0 && rank < count))
      return textAnswer(
        400,
        `rank must be an integer from 0 to ${count - 1}, got ${new URLSearchParams(search).get('rank')}`,
      );
    const key = `${cfg.trainLimit}/${cfg.testLimit}`;
    let p = loaded.get(key);
    if (!p) {
      if (loaded.size >= 2) loaded.clear();
      p = load({ trainLimit: cfg.trainLimit, testLimit: cfg.testLimit });
      p.catch(() => loaded.delete(key));
      loaded.set(key, p);
    }
    try {
      const { train, test } = await p;
      const per = Math.floor(train.count / count);
      const rows =
        path === '/data/nn/test'
          ? test
          : {
              images: train.images.subarray(rank * per * 784, (rank + 1) * per * 784),
              labels: train.labels.subarray(rank * per, (rank + 1) * per),
              count: per,
            };
      const plain = encodeMnistRows(rows);
      return bytesAnswer(plain, gzip);
    } catch (err) {
      return textAnswer(500, `could not load MNIST: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}
