import { PsError } from '@ps/core';
import { BUILT_IN_DATASETS } from '../data/load-dataset.js';
import { encodeSparseDatasetBytes } from '../data/sparse-dataset-codec.js';
import { openSlrData, type SlrData } from '../job/open-slr-data.js';
import type { SlrConfig } from '../slr/slr-config.js';
import { slrDataSettings } from '../slr/slr-data-settings.js';
import { bytesAnswer, textAnswer } from './data-answers.js';
import { parseBrowserWorkerQuery } from './worker-query.js';

/** An HTTP answer of {@link slrDataRoute}. */
export interface DataAnswer {
  status: number;
  type: string;
  body: Uint8Array;
  headers?: Record<string, string>;
}

/** Options of {@link slrDataRoute}. */
export interface SlrDataRouteOptions {
  /**
   * LIBSVM files a tab may ask for (`dataset` / `testDataset` of its job), by the path the job
   * was given; the built-in corpora (`imdb`, `spam`) are always served. Nothing else on disk is.
   */
  files?: readonly string[];
  /** Opens a job's data; default `openSlrData` (shards hashed or parsed once, then cached on disk). */
  openData?: (cfg: SlrConfig) => Promise<SlrData>;
}

/** The URL paths the route answers, under the page's folder. */
export const SLR_DATA_PATHS = {
  sizes: '/data/slr/sizes',
  train: '/data/slr/train',
  test: '/data/slr/test',
} as const;

const OPEN_JOBS = 8;

/**
 * The data of a sparse logistic regression job for browser workers, in the job's binary form:
 * `GET /data/slr/sizes?<job>` the sizes as JSON (`trainRows`, `testRows`, `features`),
 * `/data/slr/train?<job>&rank=R&count=N` training shard R of N and `/data/slr/test?<job>` the
 * test rows, each one `application/octet-stream` body (see `encodeSparseDataset`), gzipped when
 * the client accepts it. `<job>` is the page's own query (`browserWorkerQuery`): the data is
 * split and hashed exactly as for the Node workers of that job (`openSlrData`), so a tab gets
 * the rows a Node worker of its rank would. Returns undefined for another path.
 */
export function slrDataRoute(opts: SlrDataRouteOptions = {}) {
  const files = new Set(opts.files ?? []);
  const open = opts.openData ?? ((cfg: SlrConfig) => openSlrData(cfg));
  // Opened jobs by their data's identity; a failed open is not kept (the next request tries again).
  const jobs = new Map<string, Promise<SlrData>>();
  const dataOf = (cfg: SlrConfig) => {
    const key = JSON.stringify(slrDataSettings(cfg));
    let p = jobs.get(key);
    if (!p) {
      if (jobs.size >= OPEN_JOBS) jobs.delete(jobs.keys().next().value!);
      p = open(cfg);
      p.catch(() => jobs.delete(key));
      jobs.set(key, p);
    }
    return p;
  };
  const served = (name: string) =>
    name === '' || (BUILT_IN_DATASETS as readonly string[]).includes(name) || files.has(name);

  return async (path: string, search: string, gzip: boolean): Promise<DataAnswer | undefined> => {
    const part = Object.entries(SLR_DATA_PATHS).find(([, p]) => p === path)?.[0];
    if (!part) return undefined;
    const q = new URLSearchParams(search);
    const rank = Number(q.get('rank'));
    const count = Number(q.get('count'));
    q.delete('rank');
    q.delete('count');
    let cfg: SlrConfig;
    try {
      cfg = parseBrowserWorkerQuery(q.toString()).cfg;
    } catch (err) {
      return textAnswer(400, err instanceof Error ? err.message : String(err));
    }
    for (const name of [cfg.dataset, cfg.testDataset]) {
      if (!served(name))
        return textAnswer(
          403,
          `the data set '${name}' is not served here: pskv serve serves ${BUILT_IN_DATASETS.join(', ')} and the LIBSVM files it was given (--libsvm)`,
        );
    }
    if (
      part === 'train' &&
      !(
        Number.isInteger(count) &&
        count >= 1 &&
        count <= 1024 &&
        Number.isInteger(rank) &&
        rank >= 0 &&
        rank < count
      )
    )
      return textAnswer(
        400,
        `rank and count must be integers with 0 <= rank < count <= 1024, got rank=${q.get('rank')}, count=${q.get('count')}`,
      );
    let data: SlrData;
    try {
      data = await dataOf(cfg);
      if (part === 'sizes') {
        const { trainRows, testRows, features } = data;
        return {
          status: 200,
          type: 'application/json; charset=utf-8',
          body: new TextEncoder().encode(JSON.stringify({ trainRows, testRows, features })),
        };
      }
      const ds = part === 'train' ? await data.shard(rank, count) : await data.test();
      const plain = encodeSparseDatasetBytes(ds);
      return bytesAnswer(plain, gzip);
    } catch (err) {
      const code = err instanceof PsError ? `${err.code}: ` : '';
      return textAnswer(
        500,
        `could not load '${cfg.dataset}': ${code}${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
}
