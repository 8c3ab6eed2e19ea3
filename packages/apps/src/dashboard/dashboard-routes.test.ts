import { describe, expect, it } from 'vitest';
import { progress, readEvents } from './feed-events.test-util.js';
import { feedServers, testJob as job } from './feed-servers.test-util.js';
import { JobFeed } from './job-feed.js';

const { serveFeed } = feedServers();

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
