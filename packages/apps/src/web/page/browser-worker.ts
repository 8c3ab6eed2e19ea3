// The browser worker's page: reads the cluster and the job from the URL query, runs the worker
// over the platform WebSocket, shows its progress, and exposes its state on `window.psWorker`.
import { wsBrowser } from '@ps/transport-ws/browser';
import type { RawTextDataset } from '../../data/dataset.js';
import { type BrowserWorkerState, runBrowserWorker } from '../run-browser-worker.js';
import { parseBrowserWorkerQuery } from '../worker-query.js';

declare global {
  interface Window {
    /** The worker's latest state (a copy), for people and for tests. */
    psWorker?: BrowserWorkerState | { status: 'failed'; error: string };
  }
}

const $ = (id: string) => document.getElementById(id)!;
const fixed = (x: number | null, digits = 4) => (x === null ? '–' : x.toFixed(digits));
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function render(s: BrowserWorkerState): void {
  window.psWorker = s;
  document.body.className = s.status;
  $('status').textContent = s.status;
  $('worker').textContent =
    s.rank === null ? s.id : `${s.id}, rank ${s.rank} of ${s.workers} workers, ${s.shardRows} rows`;
  $('data').textContent =
    s.rowsTrain === null ? 'loading…' : `${s.rowsTrain} training rows, ${s.rowsTest} held out`;
  $('epoch').textContent = s.epoch === 0 ? '–' : `${s.epoch} of ${s.epochs}`;
  $('batches').textContent = `${s.pushes} of ${s.batchesTotal || '–'} (${s.pushesAcked} acknowledged)`;
  $('loss').textContent = `${fixed(s.loss)} / ${fixed(s.trainAccuracy)}`;
  $('accuracy').textContent = `${fixed(s.accuracy)} / ${fixed(s.logloss)} / ${fixed(s.auc)}`;
  $('traffic').textContent = `${mb(s.bytesSent)} sent, ${mb(s.bytesReceived)} received`;
  $('time').textContent = `${s.seconds.toFixed(1)} s`;
  $('error').textContent = s.error ?? '';
  const progress = $('progress') as HTMLProgressElement;
  progress.value = s.batchesTotal ? s.pushesAcked / s.batchesTotal : 0;
}

async function main(): Promise<void> {
  const { scheduler, cfg } = parseBrowserWorkerQuery(location.search);
  // The cluster secret, when the cluster has one, rides in the fragment (`#secret=…`), which the
  // browser never sends to the HTTP server.
  const secret = new URLSearchParams(location.hash.slice(1)).get('secret') ?? undefined;
  $('scheduler').textContent = `ws://${scheduler.host}:${scheduler.port}`;
  const dataUrl = new URL(`data/${cfg.dataset}.json`, location.href);
  await runBrowserWorker({
    scheduler,
    cfg,
    transport: () => wsBrowser(secret ? { secret } : {}),
    loadData: async () => {
      const res = await fetch(dataUrl);
      if (!res.ok) throw new Error(`GET ${dataUrl.pathname}: HTTP ${res.status} ${await res.text()}`);
      const { name, texts, labels } = (await res.json()) as {
        name: string;
        texts: string[];
        labels: number[];
      };
      return { name, texts, labels: Uint8Array.from(labels) } satisfies RawTextDataset;
    },
    onState: render,
  });
}

main().catch((err: unknown) => {
  const error = err instanceof Error ? err.message : String(err);
  window.psWorker = { status: 'failed', error };
  document.body.className = 'failed';
  $('status').textContent = 'failed';
  $('error').textContent = error;
});
