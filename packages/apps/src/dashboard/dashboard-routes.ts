import type { ServerResponse } from 'node:http';
import type { WebRoute } from '../web/web-server.js';
import type { JobFeed, JobSnapshot } from './job-feed.js';

/** What {@link dashboardRoutes} gives: the route for `startWebServer`, and how to end its streams. */
export interface DashboardRoutes {
  readonly route: WebRoute;
  /**
   * Sends every open `/events` stream the latest state and ends it; resolves once they are
   * flushed, or after `timeoutMs` (default 2,000 ms). Call it before closing the web server, so
   * that the pages see the job's end.
   */
  close(timeoutMs?: number): Promise<void>;
}

const ended = (s: JobSnapshot) => s.status === 'done' || s.status === 'failed';

/**
 * The HTTP face of a {@link JobFeed}: `GET /job.json` the current {@link JobSnapshot};
 * `GET /events` a Server-Sent Events stream of `snapshot` events, each the whole snapshot as
 * JSON: the current one at once, then the latest at most every `throttleMs` (default 250 ms)
 * while it changes; a job that ended gets its last one at once, and the stream ends.
 */
export function dashboardRoutes(feed: JobFeed, opts: { throttleMs?: number } = {}): DashboardRoutes {
  const throttleMs = opts.throttleMs ?? 250;
  const streams = new Set<{ res: ServerResponse; flush(): void }>();
  const route: WebRoute = (req, res, path) => {
    if (path === '/job.json') {
      const body = Buffer.from(JSON.stringify(feed.snapshot()));
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': body.length,
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    if (path !== '/events') return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const send = () => {
      timer = undefined;
      const s = feed.snapshot();
      res.write(`event: snapshot\ndata: ${JSON.stringify(s)}\n\n`);
      if (ended(s)) stop();
    };
    const stream = {
      res,
      flush: () => {
        clearTimeout(timer);
        if (!res.writableEnded) send();
      },
    };
    const unsubscribe = feed.subscribe((s) => {
      if (ended(s)) stream.flush();
      else timer ??= setTimeout(send, throttleMs);
    });
    // A comment line now and then keeps idle connections (and proxies) open.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    keepAlive.unref();
    const stop = () => {
      clearTimeout(timer);
      clearInterval(keepAlive);
      unsubscribe();
      streams.delete(stream);
      if (!res.writableEnded) res.end();
    };
    res.once('close', stop);
    streams.add(stream);
    // A page that reconnects is told to wait 1 s first.
    res.write('retry: 1000\n\n');
    send();
    return true;
  };
  const close = async (timeoutMs = 2000) => {
    const open = [...streams];
    const flushed = open.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.res.writableFinished) return resolve();
          s.res.once('finish', resolve);
          s.res.once('close', resolve);
        }),
    );
    for (const s of open) {
      s.flush();
      if (!s.res.writableEnded) s.res.end();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(flushed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  };
  return { route, close };
}
