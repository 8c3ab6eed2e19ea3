import { type PeerAddress, PsError, PsErrorCode, parseHostPort } from '@ps/core';
import { type NnConfig, resolveNnConfig } from '../nn/nn-config.js';

/**
 * The query string (without `?`) that sends a browser worker's page to a `pskv nn` job:
 * `scheduler=host:port` and the job as JSON in `nn`.
 */
export function nnWorkerQuery(scheduler: PeerAddress, cfg: NnConfig): string {
  const host = scheduler.host.includes(':') ? `[${scheduler.host}]` : scheduler.host;
  return new URLSearchParams({ scheduler: `${host}:${scheduler.port}`, nn: JSON.stringify(cfg) }).toString();
}

/** Whether a page's query is a `pskv nn` job's (it has `nn`). */
export const isNnWorkerQuery = (search: string): boolean => new URLSearchParams(search).has('nn');

/**
 * Reads {@link nnWorkerQuery}'s query; the job is checked as `pskv nn` checks it.
 * @throws PsError `PS_ERR_CONFIG` without `scheduler`, for `nn` that is not a JSON object, or a
 *   value out of range.
 */
export function parseNnWorkerQuery(search: string): { scheduler: PeerAddress; cfg: NnConfig } {
  const q = new URLSearchParams(search);
  const scheduler = parseHostPort('scheduler', q.get('scheduler') ?? undefined);
  let job: unknown;
  try {
    job = JSON.parse(q.get('nn') ?? '');
  } catch {
    job = undefined;
  }
  if (typeof job !== 'object' || job === null || Array.isArray(job))
    throw new PsError(PsErrorCode.CONFIG, "the page's query has no job: 'nn' must be the job's JSON object");
  return { scheduler, cfg: resolveNnConfig(job as Partial<NnConfig>) };
}
