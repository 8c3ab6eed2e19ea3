// Browser workers end to end: `pskv slr --transport ws --browser-workers 1` runs a cluster of OS
// processes on 127.0.0.1, `pskv serve` serves the page, and Debian's Chromium (driven by
// playwright-core, which downloads no browser) opens it: the tab joins as a worker, trains its
// shard of SpamAssassin, and its pushes reach the servers.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from './helpers/chromium.js';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));
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
  error: string | null;
}

describe('browser workers', () => {
  it('a Chromium tab joins a ws cluster with a secret as a worker, trains its shard, and its pushes reach the servers', async () => {
    chromiumPath(); // fails (not skips) at once without Chromium
    // Every connection authenticates, the tab's too: it reads the secret from the fragment.
    const dir = mkdtempSync(join(tmpdir(), 'ps-browser-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    const web = await serve();
    const { job, page } = await browserJob(web.url, ['--secret-file', secretFile]);
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
          return s === 'done' || s === 'failed';
        },
        undefined,
        { timeout: 180_000, polling: 250 },
      );
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

  it('when the tab is closed during training, a Node worker trains the rest of its shard and the job completes', async () => {
    chromiumPath();
    // This time the job serves the page itself (--serve, on any free port).
    const { job, page } = await browserJob('http://127.0.0.1:0/', ['--serve', '--epochs', '20']);
    expect(page).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/\?scheduler=/);
    expect(job.stderr.join('\n')).toMatch(/in 1 tab \(served by: this command\)/);
    const chrome = await launchChromium();
    try {
      const tab = await chrome.browser.newPage();
      await tab.goto(page, { timeout: 30_000 });
      await tab.waitForFunction(
        () => ((window as { psWorker?: { pushes: number } }).psWorker?.pushes ?? 0) > 10,
        undefined,
        { timeout: 120_000, polling: 100 },
      );
      await tab.close();
      // The tab's connection drops; the scheduler declares it dead a quarter of the heartbeat
      // timeout later (10 s with browser workers); the Node worker, once through its own shard,
      // trains the rest of the tab's from the last batch the tab's clock recorded.
      expect(await exitCode(job, 120_000), job.stderr.join('\n')).toBe(0);
      const stderr = job.stderr.join('\n');
      const adopted = /worker rank (\d) is dead: training its shard from batch (\d+) of (\d+)/.exec(stderr);
      expect(adopted, stderr).not.toBeNull();
      const [, , from, total] = adopted!.map(Number);
      expect(from!).toBeGreaterThanOrEqual(10);
      expect(from!).toBeLessThan(total!);
      const summary = JSON.parse(job.lines.at(-1)!) as { accuracy: number; browser_workers: number };
      expect(summary.browser_workers).toBe(1);
      expect(summary.accuracy).toBeGreaterThanOrEqual(0.95);
      // The page's server stopped with the job.
      await expect(fetch(page)).rejects.toThrow();
    } finally {
      await chrome.close();
    }
  }, 240_000);

  it('pskv serve serves the page, its bundle and the data, refuses the rest, and stops on SIGTERM', async () => {
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
    const data = await fetch(new URL('data/spam.json', url));
    expect(data.status).toBe(200);
    const { texts, labels } = (await data.json()) as { texts: string[]; labels: number[] };
    expect(texts).toHaveLength(6046);
    expect(labels.reduce((a, b) => a + b, 0)).toBe(1896);
    expect((await fetch(new URL('data/imdb.json', url))).status).toBe(404);
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
