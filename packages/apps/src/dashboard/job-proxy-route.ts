import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { WebRoute } from '../web/web-server.js';

/** The paths of a job's feed (see `dashboardRoutes`). */
const FEED_PATHS = new Set(['/events', '/job.json']);

/**
 * A route that answers `/events` and `/job.json` from a running job's feed at `jobUrl` (the
 * address of `pskv slr --serve`), so that `pskv serve --job URL` shows that job on its own
 * `/dashboard`: the page only ever talks to the server it came from. A job that cannot be
 * reached gets a 502 that says so.
 */
export function jobProxyRoute(jobUrl: string): WebRoute {
  const base = new URL(jobUrl);
  const get = base.protocol === 'https:' ? httpsGet : httpGet;
  return (req, res, path) => {
    if (!FEED_PATHS.has(path)) return false;
    const target = new URL(path.slice(1), base.href.endsWith('/') ? base : `${base.href}/`);
    const upstream = get(
      target,
      { headers: { accept: req.headers.accept ?? '*/*' } },
      (up: IncomingMessage) => {
        const headers: Record<string, string> = { 'cache-control': 'no-store' };
        if (up.headers['content-type']) headers['content-type'] = up.headers['content-type'];
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    upstream.once('error', (err) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(
        `cannot reach the job at ${base.href} (${err.message}): is \`pskv slr --serve\` running there?\n`,
      );
    });
    res.once('close', () => upstream.destroy());
    return true;
  };
}
