// The job's dashboard end to end: `pskv slr --serve` runs a cluster of OS processes over TCP on
// 127.0.0.1 and serves /dashboard; Debian's Chromium (driven by playwright-core) opens it while
// the job runs and we read what it shows: every node alive, the ring's ranges, the loss curve,
// and at the end the job's own accuracy. `--plot` writes the curves as SVG, which we parse.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser } from '@xmldom/xmldom';
import { afterEach, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));
afterEach(killAll);

/** Resolves with the first stderr line of `p` that matches `re`; rejects after `ms` or at its exit. */
function stderrLine(p: Proc, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const stderr = p.child.stderr!;
    const find = () => {
      for (const l of p.stderr) {
        const m = re.exec(l);
        if (m) return m;
      }
      return undefined;
    };
    const settle = (m: RegExpExecArray | undefined, why: string) => {
      clearTimeout(timer);
      stderr.off('data', onData);
      p.child.off('exit', onExit);
      if (m) resolve(m);
      else
        reject(new Error(`${why}: no stderr line matching ${re} from pid ${p.pid}:\n${p.stderr.join('\n')}`));
    };
    // The line is split off by the helper's reader on the same 'data' event: look once it ran.
    const onData = () =>
      setImmediate(() => {
        const m = find();
        if (m) settle(m, '');
      });
    const onExit = () => setImmediate(() => settle(find(), 'exited'));
    const timer = setTimeout(() => settle(find(), `${ms} ms passed`), ms);
    stderr.on('data', onData);
    p.child.once('exit', onExit);
    const m = find();
    if (m) settle(m, '');
  });
}

/** A port of 127.0.0.1 that was free when asked (the kernel's pick for port 0, released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The aria labels of the plotted points of one chart (`concat_0`: log-loss, `concat_1`: accuracy). */
function pointsOf(svg: Document, chart: 'concat_0' | 'concat_1'): string[] {
  const groups = Array.from(svg.getElementsByTagName('g')).filter((g) =>
    (g.getAttribute('class') ?? '').split(' ').includes(`${chart}_layer_1_marks`),
  );
  expect(groups).toHaveLength(1);
  return Array.from(groups[0]!.getElementsByTagName('path')).map((p) => p.getAttribute('aria-label') ?? '');
}

describe('the job dashboard', () => {
  it('shows a running job in Chromium (nodes alive, the ring, the loss curve, the final accuracy) and --plot writes its curves as SVG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-dashboard-'));
    const plot = join(dir, 'curves.svg');
    // The browser first, so that the page is open before the job's workers start.
    const chrome = await launchChromium();
    try {
      const tab = await chrome.browser.newPage({ viewport: { width: 1280, height: 900 } });
      const logs: string[] = [];
      tab.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
      tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      // A second server shows the same job: `pskv serve --job` relays the job's feed to its page.
      // It starts first (it only dials the job when a page asks), at the job's address: a port
      // free a moment ago.
      const port = await freePort();
      const relay = spawnNode(cli, {}, ['serve', '--port', '0', '--job', `http://127.0.0.1:${port}/`]);
      const relayUrl = new Promise<string>((resolve, reject) => {
        relay.child.stdout!.once('data', (b: Buffer) => resolve(String(b).trim()));
        relay.child.once('exit', (code) =>
          reject(new Error(`pskv serve exited (${code}): ${relay.stderr.join('\n')}`)),
        );
      });
      const job = spawnNode(cli, {}, [
        'slr',
        '--dataset',
        'spam',
        '--epochs',
        '4',
        // Batches of 64: the job runs long enough for rates over 0.25 s windows on a quiet machine.
        '--batch-size',
        '64',
        '--serve',
        '--web-url',
        `http://127.0.0.1:${port}/`,
        '--plot',
        plot,
        '--json',
      ]);
      const [, url] = await stderrLine(job, /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/dashboard)$/, 30_000);
      expect(url).toBe(`http://127.0.0.1:${port}/dashboard`);
      await tab.goto(url!, { timeout: 30_000 });
      expect(await relayUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const relayed = await chrome.browser.newPage();
      await relayed.goto(`${await relayUrl}dashboard`, { timeout: 30_000 });
      const wait = (fn: () => boolean) =>
        tab.waitForFunction(fn, undefined, { timeout: 60_000, polling: 100 });
      const why = () =>
        `the page's console:\n${logs.join('\n')}\nthe job's stderr:\n${job.stderr.join('\n')}`;

      // Every node of the scheduler's view, alive: 1 scheduler, 2 servers, 2 workers.
      await wait(() => {
        const rows = Array.from(document.querySelectorAll<HTMLElement>('#nodes tbody tr'));
        const alive = (role: string) =>
          rows.filter((r) => r.dataset.role === role && r.dataset.state === 'alive');
        return (
          rows.length === 5 &&
          alive('scheduler').length === 1 &&
          alive('server').length === 2 &&
          alive('worker').length === 2
        );
      }).catch((e) => {
        throw new Error(`${e}\n${why()}`);
      });
      const nodes = await tab.$$eval('#nodes tbody tr', (rows) =>
        rows.map((r) => [(r as HTMLElement).dataset.role, (r as HTMLElement).dataset.state]),
      );
      expect(nodes).toEqual([
        ['scheduler', 'alive'],
        ['server', 'alive'],
        ['server', 'alive'],
        ['worker', 'alive'],
        ['worker', 'alive'],
      ]);

      // The ring: its ranges drawn, owned by the two servers, covering the key space once.
      const ring = await tab.$$eval('#ring path.range', (paths) =>
        paths.map((p) => ({
          owner: (p as SVGElement).dataset.owner!,
          begin: Number((p as SVGElement).dataset.begin),
          end: Number((p as SVGElement).dataset.end),
        })),
      );
      expect(ring.length).toBeGreaterThanOrEqual(2);
      expect(ring[0]!.begin).toBe(0);
      expect(ring.at(-1)!.end).toBe(1);
      for (let i = 1; i < ring.length; i++) expect(ring[i]!.begin).toBe(ring[i - 1]!.end);
      const serverIds = await tab.$$eval('#nodes tbody tr[data-role="server"]', (rows) =>
        rows.map((r) => (r as HTMLElement).dataset.id!),
      );
      expect([...new Set(ring.map((r) => r.owner))].sort()).toEqual([...serverIds].sort());
      const perServer = await tab.$$eval('#ring-servers tbody tr', (rows) =>
        rows.map((r) => ({
          ranges: Number((r as HTMLElement).dataset.ranges),
          share: Number((r as HTMLElement).dataset.share),
        })),
      );
      expect(perServer).toHaveLength(2);
      expect(perServer[0]!.ranges + perServer[1]!.ranges).toBe(ring.length);
      expect(perServer[0]!.share + perServer[1]!.share).toBeCloseTo(1, 9);

      // At least two points of the loss curve, drawn.
      await wait(
        () =>
          Number(document.getElementById('curves')!.dataset.points) >= 2 &&
          document.querySelectorAll('#curves-chart svg .mark-symbol path').length >= 2,
      );

      // The end: the page shows the job's accuracy, the one its JSON summary gives.
      await wait(
        () => document.body.classList.contains('done') || document.body.classList.contains('failed'),
      );
      expect(await tab.textContent('#status'), why()).toBe('done');
      expect(await exitCode(job, 60_000)).toBe(0);
      const summary = JSON.parse(job.lines.at(-1)!) as { accuracy: number; logloss: number; workers: number };
      expect(await tab.textContent('#final-accuracy')).toBe(String(summary.accuracy));
      expect(await tab.textContent('#final-logloss')).toBe(String(summary.logloss));
      // The page followed the job while it ran (its first snapshot was not the last).
      expect(['starting', 'running']).toContain(await tab.evaluate(() => document.body.dataset.first));
      expect(Number(await tab.getAttribute('#throughput', 'data-points'))).toBeGreaterThan(0);
      expect(logs.filter((l) => l.startsWith('pageerror'))).toEqual([]);
      // The relayed page saw the same job to its end.
      await relayed.waitForFunction(() => document.body.classList.contains('done'), undefined, {
        timeout: 30_000,
        polling: 100,
      });
      expect(await relayed.textContent('#final-accuracy')).toBe(String(summary.accuracy));
      expect(await relayed.$$eval('#nodes tbody tr', (rows) => rows.length)).toBe(5);
      process.kill(relay.pid, 'SIGTERM');
      expect(await exitCode(relay, 10_000)).toBe(0);

      // The plot: well-formed XML (the parser throws on any error), the title with the accuracy,
      // and per chart every worker's curve with at least 2 points and the held-out final point.
      const text = readFileSync(plot, 'utf8');
      const svg = new DOMParser({
        onError: (level, msg) => {
          throw new Error(`the plot is not well-formed XML (${level}): ${msg}`);
        },
      }).parseFromString(text, 'image/svg+xml') as unknown as Document;
      expect(svg.documentElement!.tagName).toBe('svg');
      expect(text).toContain(`held-out accuracy ${summary.accuracy}, log-loss ${summary.logloss}`);
      for (const [chart, metric, final] of [
        ['concat_0', 'log-loss', summary.logloss],
        ['concat_1', 'accuracy', summary.accuracy],
      ] as const) {
        const labels = pointsOf(svg, chart);
        for (let w = 0; w < summary.workers; w++)
          expect(
            labels.filter((l) => l.includes(`series: train, worker ${w};`)).length,
          ).toBeGreaterThanOrEqual(2);
        const heldOut = labels.filter((l) => l.includes('series: held-out;'));
        // The final evaluation, at the last epoch (Vega prints values to 12 significant digits).
        expect(heldOut.at(-1)).toContain(`epochs: 4; ${metric}: ${final};`);
      }
    } finally {
      await chrome.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a --plot whose folder does not exist before it starts anything (exit 2)', async () => {
    const job = spawnNode(cli, {}, ['slr', '--dataset', 'spam', '--plot', '/nonexistent-ps-dir/curves.svg']);
    expect(await exitCode(job, 30_000)).toBe(2);
    expect(job.stderr).toEqual([
      'pskv: error: PS_ERR_CONFIG: --plot /nonexistent-ps-dir/curves.svg: the folder /nonexistent-ps-dir does not exist; create it or give another file',
      "Run 'pskv slr --help' for the options.",
    ]);
  }, 60_000);
});
