import { describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from '../web/web-server.js';
import { progress, readEvents } from './feed-events.test-util.js';
import { feedServers, testJob as job } from './feed-servers.test-util.js';
import { JobFeed } from './job-feed.js';
import { jobProxyRoute } from './job-proxy-route.js';

const { closers, serveFeed } = feedServers();

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
