// A browser worker's data, from the server of its page (`pskv serve`, see slrDataRoute): the
// sizes first, then only its own shard and the test rows, each in the job's binary form.
import { PsError, PsErrorCode } from '@ps/core';
import type { SparseDataset } from '../../data/dataset.js';
import { validateDataset } from '../../data/dataset.js';
import { decodeSparseDataset } from '../../data/sparse-dataset-codec.js';
import type { BrowserSlrData } from '../run-browser-worker.js';

async function get(url: URL): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) {
    throw new PsError(
      PsErrorCode.DATASET,
      `GET ${url.pathname}: HTTP ${res.status} ${(await res.text()).trim()}`,
    );
  }
  return res;
}

async function rowsOf(url: URL): Promise<SparseDataset> {
  const body = new Uint8Array(await (await get(url)).arrayBuffer());
  const ds = decodeSparseDataset(body);
  if (!ds) {
    throw new PsError(
      PsErrorCode.DATASET,
      `GET ${url.pathname}: the body (${body.length} bytes) is not a data set in the binary form; is the page's server the same version as the job?`,
    );
  }
  try {
    return validateDataset(ds);
  } catch (err) {
    throw new PsError(PsErrorCode.DATASET, `GET ${url.pathname}: ${(err as Error).message}`);
  }
}

/**
 * Opens the job of the page at `page` (its query names the job) on the page's server: resolves
 * once the sizes are known; `shard(rank, count)` and `test()` fetch those rows when asked for.
 * @throws PsError `PS_ERR_DATASET` when the server refuses or sends a malformed body.
 */
export async function openServedSlrData(page: URL): Promise<BrowserSlrData> {
  const at = (path: string, extra: Record<string, string> = {}) => {
    const url = new URL(`.${path}`, new URL('./', page));
    url.search = page.search;
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
    return url;
  };
  const sizes = (await (await get(at('/data/slr/sizes'))).json()) as {
    trainRows: number;
    testRows: number;
    features: number;
  };
  let test: Promise<SparseDataset> | undefined;
  return {
    ...sizes,
    shard: (rank, count) => rowsOf(at('/data/slr/train', { rank: String(rank), count: String(count) })),
    test: () => {
      test ??= rowsOf(at('/data/slr/test'));
      return test;
    },
  };
}
