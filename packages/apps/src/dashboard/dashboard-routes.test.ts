import { afterEach, describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from '../web/web-server.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { JobFeed, type JobSnapshot } from './job-feed.js';
import { jobProxyRoute } from './job-proxy-route.js';

const job = { dataset: 'spam', servers: 2, workers: 2, transport: 'tcp', epochs: 2, batchSize: 64 };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function serveFeed(feed: JobFeed, throttleMs = 20) {
  const routes = dashboardRoutes(feed, { throttleMs });
  const web = await startWebServer({ port: 0, routes: routes.route });
  closers.push(() => web.close());
  return { web, routes };
}

/** Reads `url`'s Server-Sent Events until the stream ends or `until` says stop; bounded by `ms`. */
async function readEvents(
  url: string,
  opts: { onOpen?: () => void; until?: (s: JobSnapshot[]) => boolean; ms?: number } = {},
): Promise<{ snapshots: JobSnapshot[]; ended: boolean; type: string | null }> {
  const abort = AbortSignal.timeout(opts.ms ?? 10_000);
  const res = await fetch(url, { signal: abort });
  const snapshots: JobSnapshot[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  opts.onOpen?.();
  for (let i = 0; i < 10_000; i++) {
    const { value, done } = await reader.read();
    if (done) return { snapshots, ended: true, type: res.headers.get('content-type') };
    buffer += value;
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = /^event: snapshot\ndata: (.*)$/s.exec(block);
      if (data) snapshots.push(JSON.parse(data[1]!) as JobSnapshot);
    }
    if (opts.until?.(snapshots)) {
      await reader.cancel();
      return { snapshots, ended: false, type: res.headers.get('content-type') };
    }
  }
  throw new Error('too many reads');
}

const progress = (rank: number, rowsDone: number) =>
  ({
    type: 'progress',
    rank,
    epoch: 1,
    epochs: 2,
    rowsDone,
    rowsTotal: 400,
    loss: 0.25,
    accuracy: 0.5,
    examplesPerSec: 10,
    keysPushed: rowsDone,
    keysPulled: rowsDone,
  }) as const;

describe('dashboardRoutes', () => {
  it('answers /job.json with the snapshot and serves the page at /dashboard', async () => {
    const feed = new JobFeed(job);
    feed.on(progress(0, 100));
    const { web } = await serveFeed(feed);
    const res = await fetch(new URL('job.json', web.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(await res.text())).toEqual(JSON.parse(JSON.stringify(feed.snapshot())));
    const page = await fetch(new URL('dashboard', web.url));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="dashboard.js"></script>');
  });

  it('streams the snapshot at once, then each change, and ends the stream when the job is done', async () => {
    const feed = new JobFeed(job);
    const { web } = await serveFeed(feed);
    let step = 0;
    const got = await readEvents(new URL('events', web.url).href, {
      // Each snapshot the client sees moves the job one step on.
      until: (s) => {
        if (s.length > step) {
          step = s.length;
          if (step === 1) feed.on(progress(0, 100));
          else if (step === 2) feed.finish({ epochs: 2, accuracy: 0.9, logloss: 0.3 } as never);
        }
        return false;
      },
    });
    expect(got.ended).toBe(true);
    expect(got.type).toBe('text/event-stream; charset=utf-8');
    expect(got.snapshots.map((s) => [s.status, s.training.length])).toEqual([
      ['starting', 0],
      ['running', 1],
      ['done', 1],
    ]);
    expect(got.snapshots[2]!.summary?.accuracy).toBe(0.9);
  });

  it('close() sends the open streams the latest state and ends them', async () => {
    const feed = new JobFeed(job);
    const { web, routes } = await serveFeed(feed, 60_000);
    // The server registers a stream before it sends the headers: once they are here, it is open.
    let opened!: () => void;
    const open = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const reading = readEvents(new URL('events', web.url).href, { onOpen: () => opened() });
    await open;
    // Throttled for a minute: only close() sends it.
    feed.on(progress(1, 40));
    await routes.close();
    const got = await reading;
    expect(got.ended).toBe(true);
    expect(got.snapshots.at(-1)!.training).toHaveLength(1);
  });
});

describe('jobProxyRoute', () => {
  it("answers /job.json and /events from the job's server", async () => {
    const feed = new JobFeed(job);
    feed.on(progress(0, 100));
    const { web: jobWeb } = await serveFeed(feed);
    const proxy = await startWebServer({ port: 0, routes: jobProxyRoute(jobWeb.url) });
    closers.push(() => proxy.close());
    const res = await fetch(new URL('job.json', proxy.url));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(feed.snapshot())));
    const got = await readEvents(new URL('events', proxy.url).href, {
      until: (s) => {
        if (s.length === 1) feed.finish({ epochs: 2, accuracy: 0.75, logloss: 0.5 } as never);
        return false;
      },
    });
    expect(got.ended).toBe(true);
    expect(got.snapshots.map((s) => s.status)).toEqual(['running', 'done']);
    // Other paths are the proxy's own.
    expect((await fetch(new URL('healthz', proxy.url))).status).toBe(200);
  });

  it('says so when the job cannot be reached (502)', async () => {
    const gone: WebServer = await startWebServer({ port: 0 });
    const url = gone.url;
    await gone.close();
    const proxy = await startWebServer({ port: 0, routes: jobProxyRoute(url) });
    closers.push(() => proxy.close());
    const res = await fetch(new URL('events', proxy.url));
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(
      new RegExp(
        `^cannot reach the job at ${url.replace(/[.]/g, '\\.')} \\(.*ECONNREFUSED.*\\): is \`pskv slr --serve\` running there\\?\\n$`,
      ),
    );
  });
});
