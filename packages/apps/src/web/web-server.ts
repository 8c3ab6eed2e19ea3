import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PsError, PsErrorCode } from '@ps/core';
import { nnDataRoute } from './serve-nn-data.js';
import { type SlrDataRouteOptions, slrDataRoute } from './serve-slr-data.js';

/** Options of {@link startWebServer}. */
export interface WebServerOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 8080. */
  port?: number;
  /** Folder of the built page (`index.html`, `browser-worker.js`). Default: `dist/web` of @ps/apps. */
  root?: string;
  /**
   * LIBSVM files the jobs' tabs may train on (their `dataset` / `testDataset`, by the path the
   * job was given); `imdb` and `spam` are always served. See `slrDataRoute`.
   */
  files?: SlrDataRouteOptions['files'];
  /** Opens a job's data (default `openSlrData`). */
  openData?: SlrDataRouteOptions['openData'];
  /** Other routes, asked first (GET and HEAD only): the job's dashboard feed (see `dashboardRoutes`). */
  routes?: WebRoute;
}

/** A route of {@link startWebServer}: answers a request and resolves `true`, or leaves it (`false`). */
export type WebRoute = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
) => boolean | Promise<boolean>;

/** A running {@link startWebServer}. */
export interface WebServer {
  /** The page's address, `http://host:port/`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
};

/** The built page next to this module (dist/web), or, when run from the sources, the package's dist/web. */
function defaultRoot(): string {
  const candidates = [new URL('./web/', import.meta.url), new URL('../../dist/web/', import.meta.url)];
  const found = candidates.map((u) => fileURLToPath(u)).find((dir) => existsSync(join(dir, 'index.html')));
  return found ?? fileURLToPath(candidates[0]!);
}

/**
 * Serves the browser worker's page and its data over HTTP (what `pskv serve` runs): `GET /` the
 * page, `/<file>` the page's other built files (a fixed list, read once: nothing else on disk is
 * reachable), `/data/slr/...` a job's data for its tabs, each tab its own shard in the job's
 * binary form (see `slrDataRoute`), `/dashboard` the job's dashboard page (its feed comes
 * from `routes`), and `/healthz`. Nothing is cached by the client (`no-store`).
 * @throws PsError `PS_ERR_CONFIG` when the page is not built (`npm run build`), `PS_ERR_BIND` when
 * the address cannot be listened on.
 */
export async function startWebServer(opts: WebServerOptions = {}): Promise<WebServer> {
  const host = opts.host ?? '127.0.0.1';
  const root = opts.root ?? defaultRoot();
  if (!existsSync(join(root, 'index.html'))) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `the browser worker page is not built (no index.html in ${root}): run npm run build`,
    );
  }
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    if (statSync(path).isFile()) files.set(name, readFileSync(path));
  }
  const nnData = nnDataRoute();
  const data = slrDataRoute({
    ...(opts.files ? { files: opts.files } : {}),
    ...(opts.openData ? { openData: opts.openData } : {}),
  });

  const send = (
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    type: string,
    body: Uint8Array,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      ...headers,
      'content-type': type,
      'content-length': body.length,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const text = (res: ServerResponse, req: IncomingMessage, status: number, msg: string) =>
    send(res, req, status, 'text/plain; charset=utf-8', Buffer.from(`${msg}\n`));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return text(res, req, 405, 'only GET and HEAD');
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return text(res, req, 200, 'ok');
    if (opts.routes && (await opts.routes(req, res, path))) return;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const answer = (await data(path, url.search, gz)) ?? (await nnData(path, url.search, gz));
    if (answer) return send(res, req, answer.status, answer.type, answer.body, answer.headers);
    const name = path === '/' ? 'index.html' : path === '/dashboard' ? 'dashboard.html' : path.slice(1);
    const body = files.get(name);
    if (!body) return text(res, req, 404, `not found: ${path}`);
    const ext = name.slice(name.lastIndexOf('.'));
    return send(res, req, 200, TYPES[ext] ?? 'application/octet-stream', body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) text(res, req, 500, String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new PsError(PsErrorCode.BIND, `cannot listen on ${host}:${opts.port ?? 8080}: ${err.message}`)),
    );
    server.listen(opts.port ?? 8080, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
