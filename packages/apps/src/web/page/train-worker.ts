// The browser worker's training loop, in a dedicated module Worker (`new Worker(url, { type:
// 'module' })`): it reads the job from the page's address, opens the WebSocket transport, loads
// its data, trains, and posts its state to the page after every change. Nothing here touches the
// DOM, so the page's main thread only renders and stays responsive while the tab trains.
import { wsBrowser } from '@ps/transport-ws/browser';
import { runBrowserWorker } from '../run-browser-worker.js';
import { parseBrowserWorkerQuery } from '../worker-query.js';
import { openServedSlrData } from './open-served-slr-data.js';
import type { TrainWorkerCommand, TrainWorkerMessage, TrainWorkerStart } from './train-worker-protocol.js';
import { WorkerTransports } from './worker-transports.js';

/** The dedicated worker's global scope, as much of it as this file uses. */
const scope = globalThis as unknown as {
  postMessage(m: TrainWorkerMessage): void;
  addEventListener(type: 'message', fn: (e: { data: TrainWorkerCommand }) => void): void;
  close(): void;
};

/** The node's transports, closed when the page goes. */
const transports = new WorkerTransports();

let started = false;

async function start(msg: TrainWorkerStart): Promise<void> {
  const page = new URL(msg.href);
  const { scheduler, cfg } = parseBrowserWorkerQuery(page.search);
  await runBrowserWorker({
    scheduler,
    cfg,
    transport: () => transports.add(wsBrowser(msg.secret ? { secret: msg.secret } : {})),
    openData: () => openServedSlrData(page),
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
    scope.postMessage({
      type: 'error',
      error: err instanceof Error ? err.message || `${err.name} (${err.stack ?? 'no stack'})` : String(err),
    }),
  );
});
scope.postMessage({ type: 'ready' });
