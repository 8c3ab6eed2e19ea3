// A `pskv nn` tab's training loop, in a dedicated module Worker (the page starts this one when
// its query holds `nn`): tfjs's WebAssembly backend (its .wasm files served beside the page; the
// cpu backend when they cannot load), the MNIST shard of its rank in binary form, the model
// trained through the TfjsBridge beside the Node workers. It posts its state as train-worker.ts.

import { PsError, PsErrorCode } from '@ps/core';
import { wsBrowser } from '@ps/transport-ws/browser';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { decodeMnistRows } from '../../data/mnist-codec.js';
import { registerWasmConvGrad } from '../../nn/register-wasm-conv-grad.js';
import { parseNnWorkerQuery } from '../nn-worker-query.js';
import { runBrowserNnWorker } from '../run-browser-nn-worker.js';
import type { TrainWorkerCommand, TrainWorkerMessage, TrainWorkerStart } from './train-worker-protocol.js';
import { WorkerTransports } from './worker-transports.js';

const scope = globalThis as unknown as {
  postMessage(m: TrainWorkerMessage): void;
  addEventListener(type: 'message', fn: (e: { data: TrainWorkerCommand }) => void): void;
  close(): void;
};

/** The node's transports, closed when the page goes. */
const transports = new WorkerTransports();

/** tfjs on WebAssembly (1 thread, the .wasm files from the page's folder), else on plain JavaScript. */
async function backend(page: URL): Promise<string> {
  try {
    setWasmPaths(new URL('./', page).href);
    setThreadsCount(1);
    registerWasmConvGrad();
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      return 'wasm';
    }
  } catch {
    // the cpu backend below
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return 'cpu';
}

async function rows(url: URL) {
  const res = await fetch(url);
  if (!res.ok)
    throw new PsError(
      PsErrorCode.DATASET,
      `GET ${url.pathname}: HTTP ${res.status} ${(await res.text()).trim()}`,
    );
  const body = new Uint8Array(await res.arrayBuffer());
  const got = decodeMnistRows(body);
  if (!got)
    throw new PsError(
      PsErrorCode.DATASET,
      `GET ${url.pathname}: the body (${body.length} bytes) is not MNIST rows in the binary form`,
    );
  return got;
}

let started = false;

async function start(msg: TrainWorkerStart): Promise<void> {
  const page = new URL(msg.href);
  const { scheduler, cfg } = parseNnWorkerQuery(page.search);
  const at = (path: string, rank?: number) => {
    const url = new URL(`.${path}`, new URL('./', page));
    url.search = page.search;
    if (rank !== undefined) url.searchParams.set('rank', String(rank));
    return url;
  };
  await runBrowserNnWorker({
    scheduler,
    cfg,
    transport: () => transports.add(wsBrowser(msg.secret ? { secret: msg.secret } : {})),
    backend: () => backend(page),
    loadShard: (rank) => rows(at('/data/nn/train', rank)),
    loadTest: () => rows(at('/data/nn/test')),
    onState: (state) => scope.postMessage({ type: 'state', state }),
  });
}

scope.addEventListener('message', (e) => {
  if (e.data?.type === 'leave') {
    // The page goes: its connections end now (the scheduler adopts its shard), and so does this Worker.
    transports.closeAll();
    scope.close();
    return;
  }
  if (e.data?.type !== 'start' || started) return;
  started = true;
  start(e.data).catch((err: unknown) =>
    scope.postMessage({ type: 'error', error: err instanceof Error ? err.message || err.name : String(err) }),
  );
});
scope.postMessage({ type: 'ready' });
