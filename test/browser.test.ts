// Browser workers end to end: `pskv slr --transport ws --browser-workers 1` runs a cluster of OS
// processes on 127.0.0.1, `pskv serve` serves the page, and Debian's Chromium (driven by
// playwright-core, which downloads no browser) opens it: the tab joins as a worker in a Web
// Worker, reads its own shard in the job's binary form, trains it through the job's filter chain
// (lz4 as the browser build of lz4-wasm), and its pushes reach the servers.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSparseDataset, validateDataset } from '@ps/apps';
import { afterEach, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from './helpers/chromium.js';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));
/**
 * A local HTTP server that takes one beacon (`navigator.sendBeacon`): `url` to send it to, `body`
 * its JSON (rejected after 60 s without one). The server closes once it has the beacon.
 */
function pageHideBeacon(): { url: Promise<string>; body: Promise<unknown> } {
  let received: (v: unknown) => void = () => undefined;
  let failed: (e: Error) => void = () => undefined;
  const body = new Promise<unknown>((resolve, reject) => {
    received = resolve;
    failed = reject;
  });
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      res.end();
      server.close();
      clearTimeout(timer);
      try {
        received(JSON.parse(Buffer.concat(parts).toString('utf8')));
      } catch (err) {
        failed(err as Error);
      }
    });
  });
  const timer = setTimeout(() => {
    server.close();
    failed(new Error('no beacon from the page within 60 s'));
  }, 60_000);
  const url = new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`),
    ),
  );
  return { url, body };
}

afterEach(killAll);

/** Waits until one of `lines` matches `re`, failing after `ms` with the process's stderr. */
async function lineOf(p: Proc, lines: string[], re: RegExp, ms: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m;
    }
    if (p.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no line matching ${re} from pid ${p.pid}; stderr:\n${p.stderr.join('\n')}`);
}

/** `pskv serve --port 0`, resolved with its page's address (its first stdout line). */
async function serve(): Promise<{ proc: Proc; url: string }> {
  const proc = spawnNode(cli, {}, ['serve', '--port', '0']);
  const [url] = await lineOf(proc, proc.lines, /^http:\/\/127\.0\.0\.1:\d+\/$/, 20_000);
  return { proc, url: url! };
}

/** Starts `pskv slr` over ws with one Node worker and one tab; resolves with the tab's address. */
async function browserJob(webUrl: string, extra: string[] = []): Promise<{ job: Proc; page: string }> {
  const job = spawnNode(cli, {}, [
    'slr',
    '--dataset',
    'spam',
    '--transport',
    'ws',
    '--servers',
    '2',
    '--workers',
    '1',
    '--browser-workers',
    '1',
    '--web-url',
    webUrl,
    '--json',
    ...extra,
  ]);
  const [, page] = await lineOf(job, job.stderr, /^browser workers: open (\S+) in 1 tab/, 30_000);
  return { job, page: page! };
}

/** The page's `window.psWorker` (see `BrowserWorkerState` in @ps/apps). */
interface TabState {
  status: string;
  id: string;
  rank: number | null;
  workers: number | null;
  rowsTrain: number | null;
  rowsTest: number | null;
  batchesTotal: number;
  pushes: number;
  pushesAcked: number;
  accuracy: number | null;
  auc: number | null;
  bytesSent: number;
  filters: { signature: string; bytesIn: number; bytesOut: number }[];
  error: string | null;
}

/** The page's main-thread timer (`window.psMainThread`): 50 ms ticks and the longest gap seen. */
interface MainThreadPulse {
  ticks: number;
  maxGapMs: number;
}

describe('browser workers', () => {
  it('a Chromium tab joins a ws cluster with a secret as a worker, trains its shard, and its pushes reach the servers', async () => {
    chromiumPath(); // fails (not skips) at once without Chromium
    // Every connection authenticates, the tab's too: it reads the secret from the fragment.
    const dir = mkdtempSync(join(tmpdir(), 'ps-browser-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    const web = await serve();
    const { job, page } = await browserJob(web.url, [
      '--secret-file',
      secretFile,
      '--filters',
      'key-caching,lz4',
    ]);
    expect(page.startsWith(`${web.url}?scheduler=127.0.0.1%3A`)).toBe(true);
    expect(new URL(page).hash).toMatch(/^#secret=/);
    const chrome = await launchChromium();
    try {
      const tab = await chrome.browser.newPage();
      const logs: string[] = [];
      tab.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
      tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      await tab.goto(page, { timeout: 30_000 });
      await tab.waitForFunction(
        () => {
          const s = (window as { psWorker?: { status: string } }).psWorker?.status;
          return s === 'training' || s === 'done' || s === 'failed';
        },
        undefined,
        { timeout: 120_000, polling: 100 },
      );
      // The training loop runs in a dedicated Worker of the page, which has no DOM.
      const workers = tab.workers();
      expect(workers.map((w) => new URL(w.url()).pathname)).toEqual(['/train-worker.js']);
      expect(await workers[0]!.evaluate(() => typeof (globalThis as { document?: unknown }).document)).toBe(
        'undefined',
      );
      // While it trains, the page's main thread answers at once and its 50 ms timer keeps ticking.
      const before = (await tab.evaluate(
        () => (window as { psMainThread?: unknown }).psMainThread,
      )) as MainThreadPulse;
      const t0 = Date.now();
      const during = (await tab.evaluate(() => (window as { psWorker?: unknown }).psWorker)) as TabState;
      const answeredMs = Date.now() - t0;
      expect(during.status, `${JSON.stringify(during)}; the tab's console:\n${logs.join('\n')}`).toBe(
        'training',
      );
      expect(answeredMs).toBeLessThan(2000);
      await tab.waitForFunction(
        () => {
          const s = (window as { psWorker?: { status: string } }).psWorker?.status;
          return s === 'done' || s === 'failed';
        },
        undefined,
        { timeout: 180_000, polling: 250 },
      );
      const after = (await tab.evaluate(
        () => (window as { psMainThread?: unknown }).psMainThread,
      )) as MainThreadPulse;
      const tabState = (await tab.evaluate(() => (window as { psWorker?: unknown }).psWorker)) as TabState;
      expect(tabState.error, `the tab failed; its console:\n${logs.join('\n')}`).toBeNull();
      expect(tabState.status).toBe('done');
      expect(tabState.id).toMatch(/^tab-[0-9a-f]{12}$/);
      expect(tabState.workers).toBe(2);
      // The tab hashed and split the data exactly as the Node workers did.
      expect(tabState.rowsTrain).toBe(4837);
      expect(tabState.rowsTest).toBe(1209);
      // One push per minibatch, every one acknowledged by the servers.
      expect(tabState.pushes).toBe(tabState.batchesTotal);
      expect(tabState.pushes).toBeGreaterThan(0);
      expect(tabState.pushesAcked).toBe(tabState.pushes);
      expect(tabState.bytesSent).toBeGreaterThan(0);
      // The job's filter chain ran in the tab: key caching, then LZ4 (lz4-wasm), which shrank what it was given.
      expect(tabState.filters.map((f) => f.signature)).toEqual([
        expect.stringMatching(/^key-caching/),
        'lz4',
      ]);
      const lz4 = tabState.filters[1]!;
      expect(lz4.bytesIn).toBeGreaterThan(0);
      expect(lz4.bytesOut).toBeLessThan(lz4.bytesIn);
      expect(after.ticks).toBeGreaterThan(before.ticks);
      expect(after.maxGapMs).toBeLessThan(2000);
      // The model on the tab's held-out split, pulled after every worker finished.
      expect(tabState.accuracy!).toBeGreaterThanOrEqual(0.95);
      // The page shows it too.
      expect(await tab.textContent('#status')).toBe('done');

      expect(await exitCode(job, 60_000)).toBe(0);
      const summary = JSON.parse(job.lines.at(-1)!) as {
        workers: number;
        browser_workers: number;
        transport: string;
        accuracy: number;
        push_requests_by_worker: Record<string, number>;
      };
      expect(summary.transport).toBe('ws');
      expect(summary.workers).toBe(1);
      expect(summary.browser_workers).toBe(1);
      // The servers counted the tab's pushes under its node id (a push spanning both servers
      // counts at each master; replicas' replays do not count), and the Node worker's beside them.
      const byWorker = summary.push_requests_by_worker;
      expect(Object.keys(byWorker).sort()).toEqual(
        [tabState.id, Object.keys(byWorker).find((id) => id !== tabState.id)!].sort(),
      );
      expect(byWorker[tabState.id]!).toBeGreaterThanOrEqual(tabState.pushes);
      expect(byWorker[tabState.id]!).toBeLessThanOrEqual(2 * tabState.pushes);
      // The first Node worker evaluated the model for the summary.
      expect(summary.accuracy).toBeGreaterThanOrEqual(0.95);
    } finally {
      await chrome.close();
      rmSync(dir, { recursive: true, force: true });
      process.kill(web.proc.pid, 'SIGTERM');
      expect(await exitCode(web.proc, 10_000)).toBe(0);
    }
  }, 300_000);

  it('when the tab leaves its page during training, its Worker stops, a Node worker trains the rest of its shard and the job completes', async () => {
    chromiumPath();
    // This time the job serves the page itself (--serve, on any free port).
    // Batches of 32: the tab leaves well before the Node worker ends its own shard (a worker
    // adopts the shards of workers already dead when it ends its own; see docs/browser-workers.md),
    // and long before the tab could end its own (with 64, 1 full-suite run in 2 saw the tab's shard
    // done before its page went).
    const { job, page } = await browserJob('http://127.0.0.1:0/', [
      '--serve',
      '--epochs',
      '20',
      '--batch-size',
      '32',
    ]);
    expect(page).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/\?scheduler=/);
    expect(job.stderr.join('\n')).toMatch(/in 1 tab \(served by: this command\)/);
    const chrome = await launchChromium();
    try {
      const tab = await chrome.browser.newPage();
      await tab.goto(page, { timeout: 30_000 });
      // Acknowledged pushes, with room to spare: the tab's clock (what the adopting worker starts
      // from) is reported after the acknowledgement, so it may trail the tab's own count.
      await tab.waitForFunction(
        () => ((window as { psWorker?: { pushesAcked: number } }).psWorker?.pushesAcked ?? 0) > 14,
        undefined,
        { timeout: 120_000, polling: 100 },
      );
      // Only the page goes (the browser stays): on `pagehide` the page tells its Web Worker to
      // leave and terminates it, so the Worker trains no further (one left running was seen to
      // train most of its shard under load, leaving nothing to adopt). The tab navigates away
      // rather than closing: `pagehide` fires for both, but Chromium fired it 15-25 s after
      // `page.close()` while the Worker was busy (quiet machine, 3 runs of 3), by when the tab had
      // trained its whole shard; a navigation fired it within 0.1 s.
      // What the page showed of its Worker when it went: a beacon from a `pagehide` listener added
      // after the page's own (which has told the Worker to leave and terminated it by then).
      const atPagehide = pageHideBeacon();
      const beaconUrl = await atPagehide.url;
      await tab.evaluate((url) => {
        addEventListener('pagehide', () =>
          navigator.sendBeacon(url, JSON.stringify((window as { psWorker?: unknown }).psWorker)),
        );
      }, beaconUrl);
      await tab.goto('about:blank');
      const shown = (await atPagehide.body) as TabState;
      expect(shown.status).toBe('training');
      // The tab's connection ends; the scheduler declares it dead a quarter of the heartbeat
      // timeout later (10 s with browser workers); the Node worker, once through its own shard,
      // trains the rest of the tab's from the last batch the tab's clock recorded.
      expect(await exitCode(job, 120_000), job.stderr.join('\n')).toBe(0);
      const stderr = job.stderr.join('\n');
      expect(stderr).toMatch(
        /worker tab-[0-9a-f]{12} \(rank \d\) lost its connection \d+ ms ago: declared dead/,
      );
      const adopted = /worker rank (\d) is dead: training its shard from batch (\d+) of (\d+)/.exec(stderr);
      expect(adopted, stderr).not.toBeNull();
      const [, , from, total] = adopted!.map(Number);
      expect(from!).toBeGreaterThanOrEqual(10);
      // The Worker stopped with its page: the tab's last batch is at most what the page showed at
      // `pagehide`, plus what one progress report (every 0.5 s) can trail by and τ + 1 in flight
      // (a Worker left running trains on for as long as the browser takes to end it).
      expect(total!).toBe(1520);
      expect(from!, `the page showed ${shown.pushes} pushes at pagehide`).toBeLessThanOrEqual(
        shown.pushes + 100,
      );
      const summary = JSON.parse(job.lines.at(-1)!) as { accuracy: number; browser_workers: number };
      expect(summary.browser_workers).toBe(1);
      expect(summary.accuracy).toBeGreaterThanOrEqual(0.95);
      // The page's server stopped with the job.
      await expect(fetch(page)).rejects.toThrow();
    } finally {
      await chrome.close();
    }
  }, 240_000);

  it('a tab trains a LIBSVM file the job was given, through quantize:8 and lz4, beside a Node worker', async () => {
    chromiumPath();
    // 2,000 rows of 40 sparse features, labelled by the sign of a fixed linear score: separable.
    const dir = mkdtempSync(join(tmpdir(), 'ps-browser-svm-'));
    const file = join(dir, 'linear.svm');
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const lines: string[] = [];
    for (let r = 0; r < 2000; r++) {
      const feats = new Map<number, number>();
      for (let k = 0; k < 6; k++) feats.set(1 + Math.floor(rnd() * 40), Math.round(rnd() * 100) / 100 + 0.01);
      const ids = [...feats.keys()].sort((a, b) => a - b);
      const score = ids.reduce((a, id) => a + (id <= 20 ? 1 : -1) * feats.get(id)!, 0);
      lines.push(`${score >= 0 ? '+1' : '-1'} ${ids.map((id) => `${id}:${feats.get(id)}`).join(' ')}`);
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { job, page } = await browserJob('http://127.0.0.1:0/', [
      '--serve',
      '--servers',
      '1',
      '--filters',
      'quantize:8,lz4:0',
      '--dataset',
      file,
    ]);
    const chrome = await launchChromium();
    try {
      const tab = await chrome.browser.newPage();
      await tab.goto(page, { timeout: 30_000 });
      await tab.waitForFunction(
        () => {
          const s = (window as { psWorker?: { status: string } }).psWorker?.status;
          return s === 'done' || s === 'failed';
        },
        undefined,
        { timeout: 120_000, polling: 250 },
      );
      const tabState = (await tab.evaluate(() => (window as { psWorker?: unknown }).psWorker)) as TabState;
      expect(tabState.error).toBeNull();
      expect(tabState.status).toBe('done');
      // The job's split (seed 42, a fifth held out); the tab trains its half of the training rows.
      expect(tabState.rowsTrain).toBe(1600);
      expect(tabState.rowsTest).toBe(400);
      // 800 rows a worker: the default batch is 100 rows, 8 steps a pass, 3 passes.
      expect(tabState.batchesTotal).toBe(24);
      expect(tabState.pushes).toBe(tabState.batchesTotal);
      expect(tabState.pushesAcked).toBe(tabState.pushes);
      expect(tabState.filters.map((f) => f.signature)).toEqual(['quantize:8', 'lz4']);
      expect(tabState.filters[0]!.bytesOut).toBeLessThan(tabState.filters[0]!.bytesIn);
      expect(tabState.accuracy!).toBeGreaterThanOrEqual(0.9);
      expect(await exitCode(job, 60_000), job.stderr.join('\n')).toBe(0);
      const summary = JSON.parse(job.lines.at(-1)!) as {
        accuracy: number;
        rows_train: number;
        push_requests_by_worker: Record<string, number>;
      };
      expect(summary.rows_train).toBe(1600);
      // One server: each of the tab's pushes is one push request there.
      expect(summary.push_requests_by_worker[tabState.id]).toBe(tabState.pushes);
      expect(summary.accuracy).toBeGreaterThanOrEqual(0.9);
    } finally {
      await chrome.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('a tab trains the tfjs MNIST model beside a Node worker of pskv nn (sync): every iteration waits for its push', async () => {
    chromiumPath();
    const job = spawnNode(cli, {}, [
      'nn',
      '--workers',
      '1',
      '--browser-workers',
      '1',
      '--web-url',
      'http://127.0.0.1:0/',
      '--train-limit',
      '4000',
      '--test-limit',
      '1000',
      '--epochs',
      '3',
      '--lr',
      '0.01',
      '--json',
    ]);
    const [, page] = await lineOf(job, job.stderr, /^browser workers: open (\S+) in 1 tab/, 60_000);
    const chrome = await launchChromium();
    try {
      const tab = await chrome.browser.newPage();
      await tab.goto(page!, { timeout: 30_000 });
      await tab.waitForFunction(
        () => {
          const s = (window as { psWorker?: { status: string } }).psWorker?.status;
          return s === 'done' || s === 'failed';
        },
        undefined,
        { timeout: 180_000, polling: 250 },
      );
      expect(tab.workers().map((w) => new URL(w.url()).pathname)).toEqual(['/nn-train-worker.js']);
      const tabState = (await tab.evaluate(() => (window as { psWorker?: unknown }).psWorker)) as TabState & {
        backend: string;
        logloss: number;
      };
      expect(tabState.error).toBeNull();
      expect(tabState.status).toBe('done');
      // tfjs's WebAssembly backend loaded in the Worker (its .wasm files from the page's server).
      expect(tabState.backend).toBe('wasm');
      expect(tabState.workers).toBe(2);
      // Its half of the first 4,000 training images; 31 steps of 64 an epoch, 3 epochs.
      expect(tabState.rowsTrain).toBe(2000);
      expect(tabState.rowsTest).toBe(1000);
      expect(tabState.batchesTotal).toBe(93);
      expect(tabState.pushes).toBe(93);
      expect(tabState.pushesAcked).toBe(93);
      expect(tabState.accuracy!).toBeGreaterThanOrEqual(0.9);
      expect(await exitCode(job, 60_000), job.stderr.join('\n')).toBe(0);
      const summary = JSON.parse(job.lines.at(-1)!) as {
        test_accuracy: number;
        steps: number;
        push_requests_by_worker: Record<string, number>;
        config: { browserWorkers: number };
      };
      expect(summary.config.browserWorkers).toBe(1);
      // Sync mode: the servers apply iteration t once both workers pushed it, so the Node
      // worker's 93 steps each waited for one of the tab's pushes.
      expect(summary.steps).toBe(93);
      // And the servers counted the tab's 93 pushes under its node id, the Node worker's beside them.
      expect(Object.values(summary.push_requests_by_worker)).toEqual([93, 93]);
      expect(summary.push_requests_by_worker[tabState.id]).toBe(93);
      expect(summary.test_accuracy).toBeGreaterThanOrEqual(0.9);
      // The same final model on the same test images, measured in the tab and by the Node worker.
      expect(tabState.accuracy!).toBeCloseTo(summary.test_accuracy, 2);
    } finally {
      await chrome.close();
    }
  }, 300_000);

  it("pskv serve serves the page, its bundles and a job's data in binary shards, refuses the rest, and stops on SIGTERM", async () => {
    const { proc, url } = await serve();
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="./browser-worker.js">');
    const bundle = await fetch(new URL('browser-worker.js', url));
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
    // A browser bundle: no Node built-in is imported.
    expect(await bundle.text()).not.toMatch(/from\s*["']node:|require\(["']node:/);
    const worker = await fetch(new URL('train-worker.js', url));
    expect(worker.status).toBe(200);
    const workerCode = await worker.text();
    expect(workerCode).not.toMatch(/from\s*["']node:|require\(["']node:/);
    // lz4-wasm's wasm is in the Worker's bundle (base64): the tab fetches nothing else for it.
    expect(workerCode).toContain('__psSetWasm');
    // tfjs's WebAssembly backend, for pskv nn tabs, and their Worker.
    const wasm = await fetch(new URL('tfjs-backend-wasm-simd.wasm', url));
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect((await fetch(new URL('nn-train-worker.js', url))).status).toBe(200);
    expect((await fetch(new URL('data/nn/train?scheduler=127.0.0.1%3A1&nn=%7B&rank=0', url))).status).toBe(
      400,
    );
    // A job's data, in its binary form: the sizes, a tab's shard, the test rows.
    const job = 'scheduler=127.0.0.1%3A1&dataset=spam';
    const sizes = await fetch(new URL(`data/slr/sizes?${job}`, url));
    expect(sizes.status).toBe(200);
    expect(await sizes.json()).toEqual({ trainRows: 4837, testRows: 1209, features: 2 ** 20 });
    const shard = await fetch(new URL(`data/slr/train?${job}&rank=1&count=2`, url));
    expect(shard.status).toBe(200);
    expect(shard.headers.get('content-type')).toBe('application/octet-stream');
    const rows = validateDataset(decodeSparseDataset(new Uint8Array(await shard.arrayBuffer()))!);
    expect(rows.rows).toBe(4837 - Math.floor(4837 / 2));
    expect(rows.features).toBe(2 ** 20);
    expect(rows.name).toBe('spam/train[1/2]');
    const test = validateDataset(
      decodeSparseDataset(
        new Uint8Array(await (await fetch(new URL(`data/slr/test?${job}`, url))).arrayBuffer()),
      )!,
    );
    expect(test.rows).toBe(1209);
    // The raw corpus is not served; nor is a file the server was not given, nor a bad shard.
    expect((await fetch(new URL('data/spam.json', url))).status).toBe(404);
    const other = await fetch(new URL('data/slr/sizes?scheduler=127.0.0.1%3A1&dataset=%2Fetc%2Fpasswd', url));
    expect(other.status).toBe(403);
    expect(await other.text()).toMatch(/the data set '\/etc\/passwd' is not served here/);
    expect((await fetch(new URL(`data/slr/train?${job}&rank=2&count=2`, url))).status).toBe(400);
    expect((await fetch(new URL('data/slr/sizes?dataset=spam', url))).status).toBe(400);
    expect((await fetch(new URL('../package.json', url))).status).toBe(404);
    expect((await fetch(new URL('%2e%2e/cli.js', url))).status).toBe(404);
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(405);
    process.kill(proc.pid, 'SIGTERM');
    expect(await exitCode(proc, 10_000)).toBe(0);
    expect(proc.stderr.join('\n')).toMatch(/pskv serve: stopped on SIGTERM/);
  });

  // (`--serve` without browser workers serves the job's dashboard: see test/dashboard.test.ts.)
  it('refuses browser workers without --transport ws, with exit code 2', async () => {
    const p = spawnNode(cli, {}, ['slr', '--dataset', 'spam', '--browser-workers', '1']);
    expect(await exitCode(p, 20_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/--browser-workers needs --transport ws/);
  });
});
