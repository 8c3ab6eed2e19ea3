import { afterEach } from 'vitest';
import { startWebServer } from '../web/web-server.js';
import { dashboardRoutes } from './dashboard-routes.js';
import type { JobFeed } from './job-feed.js';

/** The job the dashboard tests' feeds describe. */
export const testJob = {
  dataset: 'spam',
  servers: 2,
  workers: 2,
  transport: 'tcp',
  epochs: 2,
  batchSize: 64,
};

/**
 * For a test file: `serveFeed` serves a feed's dashboard routes on 127.0.0.1 (a free port);
 * what it and the tests push on `closers` is closed after each test, the last first.
 */
export function feedServers() {
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
  return { closers, serveFeed };
}
