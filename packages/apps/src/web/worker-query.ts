import { type PeerAddress, PsError, PsErrorCode, parseHostPort } from '@ps/core';
import { resolveSlrConfig, SLR_DEFAULTS, type SlrConfig } from '../slr/slr-config.js';

/** Node ids of browser workers start with this, so that Node roles can tell them apart. */
export const BROWSER_WORKER_ID_PREFIX = 'tab-';

/** What a browser worker's page reads from its URL. */
export interface BrowserWorkerQuery {
  /** Where the scheduler's WebSocket listener is (`scheduler=host:port`). */
  scheduler: PeerAddress;
  /** The job, as every role of the cluster has it. */
  cfg: SlrConfig;
}

// Options that matter only to the launcher, the scheduler or the servers, never to a worker.
const LAUNCHER_ONLY = new Set<keyof SlrConfig>([
  'servers',
  'workers',
  'browserWorkers',
  'transport',
  'replicas',
  'kill',
  'heartbeatTimeoutMs',
  'snapshotDir',
  'restore',
]);

/**
 * The query string (without `?`) that sends a browser worker's page to a cluster:
 * `scheduler=host:port` and every job option that differs from its default, by its `SlrConfig`
 * name (`epochs=2&batchSize=32`).
 */
export function browserWorkerQuery(scheduler: PeerAddress, cfg: SlrConfig): string {
  const q = new URLSearchParams();
  const host = scheduler.host.includes(':') ? `[${scheduler.host}]` : scheduler.host;
  q.set('scheduler', `${host}:${scheduler.port}`);
  for (const k of Object.keys(SLR_DEFAULTS) as (keyof SlrConfig)[]) {
    if (LAUNCHER_ONLY.has(k) || cfg[k] === SLR_DEFAULTS[k]) continue;
    q.set(k, String(cfg[k]));
  }
  return q.toString();
}

/**
 * Reads a browser worker's page query (see {@link browserWorkerQuery}). Options not given take
 * their defaults; the result is checked like any job config, for a job over `ws`.
 * @throws PsError `PS_ERR_CONFIG` without `scheduler`, for an unknown option, or a value out of range.
 */
export function parseBrowserWorkerQuery(search: string): BrowserWorkerQuery {
  const q = new URLSearchParams(search);
  const scheduler = parseHostPort('scheduler', q.get('scheduler') ?? undefined);
  const partial: Record<string, unknown> = {};
  for (const [k, raw] of q) {
    if (k === 'scheduler') continue;
    if (!(k in SLR_DEFAULTS) || LAUNCHER_ONLY.has(k as keyof SlrConfig)) {
      throw new PsError(PsErrorCode.CONFIG, `the page's query has an unknown option '${k}'`);
    }
    const d = SLR_DEFAULTS[k as keyof SlrConfig];
    partial[k] = typeof d === 'number' ? Number(raw) : typeof d === 'boolean' ? raw === 'true' : raw;
  }
  // A tab is a browser worker of a WebSocket cluster: checked as such (spam, no filters).
  return { scheduler, cfg: resolveSlrConfig({ ...partial, transport: 'ws', browserWorkers: 1 }) };
}
