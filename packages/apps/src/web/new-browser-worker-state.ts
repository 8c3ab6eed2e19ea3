import type { BrowserWorkerState } from './run-browser-worker.js';
import { BROWSER_WORKER_ID_PREFIX } from './worker-query.js';

const randomHex = (digits: number) =>
  Array.from({ length: digits }, () => Math.floor(Math.random() * 16).toString(16)).join('');

/**
 * A browser worker's state before it did anything (`status: 'loading'`, nothing measured yet):
 * node id `id`, default `tab-` and 12 random hex digits; `epochs` and `batchesTotal` as the job
 * plans them.
 */
export function newBrowserWorkerState(
  id: string | undefined,
  epochs: number,
  batchesTotal: number,
): BrowserWorkerState {
  return {
    status: 'loading',
    id: id ?? `${BROWSER_WORKER_ID_PREFIX}${randomHex(12)}`,
    rank: null,
    workers: null,
    rowsTrain: null,
    rowsTest: null,
    shardRows: null,
    epoch: 0,
    epochs,
    batchesTotal,
    pushes: 0,
    pushesAcked: 0,
    loss: null,
    trainAccuracy: null,
    accuracy: null,
    logloss: null,
    auc: null,
    filters: [],
    bytesSent: 0,
    bytesReceived: 0,
    seconds: 0,
    error: null,
  };
}
