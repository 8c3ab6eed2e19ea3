#!/usr/bin/env node
// Takes docs/img/dashboard.png: runs a real job with `pskv slr --serve --plot docs/img/curves.svg`,
// opens its /dashboard in Chromium (playwright-core with Debian's /usr/bin/chromium, or
// PS_CHROMIUM), and screenshots the page while the job runs, once worker 0 is past `--at` of its
// epochs (default 0.7). Any further arguments go to `pskv slr`.
//
//   npm run build && node scripts/dashboard-screenshot.mjs -- --dataset imdb --epochs 3 --eval-every 20
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2).filter((a) => a !== '--');
const atIndex = argv.indexOf('--at');
const at = atIndex >= 0 ? Number(argv.splice(atIndex, 2)[1]) : 0.7;
const png = `${root}docs/img/dashboard.png`;
const svg = `${root}docs/img/curves.svg`;
const { PS_CHROMIUM: given } = process.env;
const executablePath = given ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) throw new Error('no Chromium: apt-get install chromium, or set PS_CHROMIUM');

const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
const job = spawn(
  process.execPath,
  [
    `${root}packages/apps/dist/cli.js`,
    'slr',
    '--serve',
    '--web-url',
    'http://127.0.0.1:0/',
    '--plot',
    svg,
    ...argv,
  ],
  { stdio: ['ignore', 'inherit', 'pipe'] },
);
try {
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: job.stderr });
    lines.on('line', (l) => {
      process.stderr.write(`${l}\n`);
      const m = /^dashboard: (\S+)$/.exec(l);
      if (m) resolve(m[1]);
    });
    job.once('exit', (code) => reject(new Error(`the job exited (${code}) before serving its dashboard`)));
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  await page.goto(url, { timeout: 30_000 });
  await page.waitForFunction(
    (share) => {
      const s = window.psDashboard;
      const last = s?.training.filter((p) => p.rank === 0).at(-1);
      if (s?.status === 'done' || s?.status === 'failed') return true;
      return s?.status === 'running' && last !== undefined && last.epoch >= share * s.job.epochs;
    },
    at,
    { timeout: 600_000, polling: 100 },
  );
  // The charts draw the latest snapshot asynchronously: give them a frame.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: png, fullPage: true });
  process.stderr.write(`dashboard-screenshot: wrote ${png} (status ${await page.textContent('#status')})\n`);
  if (job.exitCode === null) await new Promise((resolve) => job.once('exit', resolve));
  process.stderr.write(`dashboard-screenshot: the job wrote ${svg}\n`);
} finally {
  if (job.exitCode === null) job.kill('SIGTERM');
  await browser.close();
}
