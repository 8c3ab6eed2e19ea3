// The browser WebSocket medium in a real Chromium: core's frame-transport conformance suite runs
// in a page (test/fixtures/browser-frames/page.ts, bundled here with esbuild), dialing with the
// platform WebSocket; the listening side is the Node medium in this process (a page cannot listen).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runFrameTransportConformance } from '@ps/core/testing';
import { WsFrameTransport } from '@ps/transport-ws';
import { build } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from './helpers/chromium.js';
import { type FrameRelay, startFrameRelay } from './helpers/frame-relay.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The page's script as one ES module for browsers; @ps/core from its sources (one PsError class). */
async function bundle(): Promise<string> {
  const out = await build({
    entryPoints: [here('./fixtures/browser-frames/page.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    alias: { '@ps/core': here('../packages/core/src/index.ts') },
    logLevel: 'warning',
  });
  return out.outputFiles[0]!.text;
}

/** Serves the page and its script on 127.0.0.1 (a page on a loopback origin may dial loopback). */
async function servePage(script: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (req.url === '/') {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script type="module" src="/page.js"></script>');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/** How many tests the suite registers (counted without running them). */
function suiteSize(): number {
  let n = 0;
  runFrameTransportConformance(
    { describe: (_name, fn) => fn(), it: () => void n++, expect, afterEach: () => undefined },
    'count',
    () => new WsFrameTransport(),
  );
  return n;
}

let relay: FrameRelay | undefined;
let web: Server | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
  web?.closeAllConnections();
  await new Promise((r) => (web ? web.close(r) : r(undefined)));
  web = undefined;
});

describe('BrowserWsFrameTransport in Chromium', () => {
  it('passes the frame-transport conformance suite on the platform WebSocket', async () => {
    chromiumPath(); // fails (not skips) at once without Chromium
    const served = await servePage(await bundle());
    web = served.server;
    relay = await startFrameRelay();
    const chrome = await launchChromium();
    try {
      const page = await chrome.browser.newPage();
      const logs: string[] = [];
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      await page.goto(served.url, { timeout: 30_000 });
      await page.waitForFunction(() => 'runConformance' in globalThis, undefined, { timeout: 30_000 });
      const outcomes = (await page.evaluate(
        (url) =>
          (globalThis as unknown as { runConformance(u: string): Promise<unknown> }).runConformance(url),
        relay.url,
      )) as { name: string; ok: boolean; error?: string }[];
      const failed = outcomes.filter((o) => !o.ok);
      expect(failed, `${failed.map((f) => `${f.name}: ${f.error}`).join('\n')}\n${logs.join('\n')}`).toEqual(
        [],
      );
      expect(outcomes.length).toBe(suiteSize());
      expect(
        outcomes.every((o) => o.name.startsWith('frame transport conformance: ws-browser in Chromium > ')),
      ).toBe(true);
    } finally {
      await chrome.close();
    }
  }, 240_000);
});
