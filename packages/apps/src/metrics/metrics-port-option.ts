import { InvalidArgumentError, Option } from 'commander';
import { JobMetrics } from './job-metrics.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';
import { NodeMetricsRegistry } from './node-metrics-registry.js';

/** `--metrics-port <port>`, for `pskv slr` (the whole job's metrics) and `pskv start` (one role's). */
export function metricsPortOption(): Option {
  return new Option(
    '--metrics-port <port>',
    'serve Prometheus metrics at http://127.0.0.1:PORT/metrics while running (slr: every node of the job; start: this role); 0 picks a free port; the address is printed on stderr',
  ).argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65_535)
      throw new InvalidArgumentError('not a port (0 to 65535)');
    return n;
  });
}

/** Metrics being served, and what stops serving them. */
export interface ServedMetrics<M> {
  metrics: M;
  server: MetricsServer;
  close(): Promise<void>;
}

/** Serves `metrics` on 127.0.0.1:`port` and says where on stderr, as `pskv <cmd>`. */
async function serveMetrics<M extends { metrics(): Promise<string> }>(
  port: number,
  metrics: M,
  cmd: string,
): Promise<ServedMetrics<M>> {
  const server = await startMetricsServer({ port, metrics: () => metrics.metrics() });
  process.stderr.write(`pskv ${cmd}: metrics at ${server.url}\n`);
  return { metrics, server, close: () => server.close() };
}

/**
 * For `pskv slr --metrics-port P`: every node of the job (role processes asked over their IPC
 * channels at each scrape, nodes of this process read directly), served on 127.0.0.1:P.
 * Nothing when `port` is undefined.
 * @throws PsError `PS_ERR_CONFIG` when the port cannot be listened on.
 */
export async function serveJobMetrics(
  port: number | undefined,
): Promise<ServedMetrics<JobMetrics> | undefined> {
  if (port === undefined) return undefined;
  return serveMetrics(port, new JobMetrics(), 'slr');
}

/**
 * For `pskv start --metrics-port P`: this role's node, served on 127.0.0.1:P. Nothing when
 * `port` is undefined.
 * @throws PsError `PS_ERR_CONFIG` when the port cannot be listened on.
 */
export async function serveRoleMetrics(
  port: number | undefined,
): Promise<ServedMetrics<NodeMetricsRegistry> | undefined> {
  if (port === undefined) return undefined;
  return serveMetrics(port, new NodeMetricsRegistry(), 'start');
}
