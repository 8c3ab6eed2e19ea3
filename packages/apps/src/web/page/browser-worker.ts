// The browser worker's page: starts the training Worker (train-worker.ts), shows the progress it
// posts, and exposes its state on `window.psWorker`. The page's main thread only renders: every
// byte of data, hashing-free shard, gradient and WebSocket frame lives in the Worker. A timer
// measures how responsive the main thread stays (`window.psMainThread`).
import type { BrowserWorkerState } from '../run-browser-worker.js';
import type { TrainWorkerLeave, TrainWorkerMessage, TrainWorkerStart } from './train-worker-protocol.js';

/** How promptly the main thread runs a 50 ms timer: ticks so far and the longest gap between two. */
interface MainThreadPulse {
  ticks: number;
  maxGapMs: number;
}

declare global {
  interface Window {
    /** The worker's latest state (a copy), for people and for tests. */
    psWorker?: BrowserWorkerState | { status: 'failed'; error: string };
    psMainThread?: MainThreadPulse;
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

function fail(error: string): void {
  window.psWorker = { status: 'failed', error };
  document.body.className = 'failed';
  $('status').textContent = 'failed';
  $('error').textContent = error;
}

function pulse(): void {
  const p: MainThreadPulse = { ticks: 0, maxGapMs: 0 };
  window.psMainThread = p;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    p.ticks++;
    p.maxGapMs = Math.max(p.maxGapMs, now - last);
    last = now;
    $('pulse').textContent = String(p.ticks);
  }, 50);
}

function main(): void {
  pulse();
  const params = new URLSearchParams(location.search);
  $('scheduler').textContent = `ws://${params.get('scheduler') ?? '?'}`;
  $('dataset').textContent = params.has('nn') ? 'mnist (pskv nn)' : (params.get('dataset') ?? 'imdb');
  if (params.has('nn')) $('job').textContent = 'a tfjs model on MNIST';
  // The cluster secret, when the cluster has one, rides in the fragment (`#secret=…`), which the
  // browser never sends to the HTTP server; the page hands it to its own Worker only.
  const secret = new URLSearchParams(location.hash.slice(1)).get('secret') ?? undefined;
  // A `pskv nn` job's tab (its query holds `nn`) trains tfjs in its own Worker bundle.
  const script = params.has('nn') ? './nn-train-worker.js' : './train-worker.js';
  const worker = new Worker(new URL(script, import.meta.url), { type: 'module' });
  const start: TrainWorkerStart = { type: 'start', href: location.href, ...(secret ? { secret } : {}) };
  worker.addEventListener('message', (e: MessageEvent<TrainWorkerMessage>) => {
    if (e.data.type === 'ready') worker.postMessage(start);
    else if (e.data.type === 'state') render(e.data.state);
    else fail(e.data.error);
  });
  worker.addEventListener('error', (e) =>
    fail(`the training worker failed: ${e.message || 'it could not load'}`),
  );
  // A page that goes ends its Worker: a Worker left running would go on training the tab's shard
  // (seen in headless Chromium under load), which the job can adopt only once the tab has left.
  // `pagehide`, not `beforeunload`: it fires for every way a page goes (a closed tab, a
  // navigation, a page put in the back/forward cache), and never for one that stays.
  addEventListener('pagehide', () => {
    const leave: TrainWorkerLeave = { type: 'leave' };
    worker.postMessage(leave);
    worker.terminate();
  });
  // Back from the back/forward cache: the Worker is gone, and so is this tab's place in the job.
  addEventListener('pageshow', (e) => {
    if (e.persisted) fail('this page left the job when it was hidden: reload it to join again');
  });
}

try {
  main();
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
