import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PsError, PsErrorCode } from '@ps/core';
import { Registry } from 'prom-client';

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** Where Prometheus scrapes, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** The port it listens on (the one picked when 0 was asked for). */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Serves `metrics()` (Prometheus' text format) at `http://HOST:PORT/metrics` (any other path:
 * 404). Port 0 picks a free port.
 * @throws PsError `PS_ERR_CONFIG` when the port cannot be listened on (in use, not allowed).
 */
export async function startMetricsServer(opts: {
  host?: string;
  port: number;
  metrics: () => Promise<string>;
}): Promise<MetricsServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    opts.metrics().then(
      (text) => res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE }).end(text),
      (err: unknown) =>
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`metrics failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PsError(
          PsErrorCode.CONFIG,
          `cannot serve metrics at ${host}:${opts.port} (${err.code ?? err.message}): pick another --metrics-port, or 0 for any free port`,
        ),
      ),
    );
    server.listen(opts.port, host, () => resolve());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
