import { PsError, PsErrorCode } from '../errors.js';

/**
 * How far a starting cluster has filled: nodes registered and expected, per role. The scheduler
 * sends it in the body of its `heartbeat` until the cluster starts (to every node at each
 * registration, and in answer to each heartbeat), so a node that times out can name what is
 * missing.
 */
export interface ClusterFill {
  servers: number;
  numServers: number;
  workers: number;
  numWorkers: number;
}

const FIELDS = ['servers', 'numServers', 'workers', 'numWorkers'] as const;

/** The fill in a heartbeat's body, or undefined when the body holds none (a started cluster). */
export function fillFromWire(body: unknown): ClusterFill | undefined {
  const fill = (body as { fill?: Record<string, unknown> } | undefined)?.fill;
  if (typeof fill !== 'object' || fill === null) return undefined;
  if (!FIELDS.every((k) => Number.isInteger(fill[k]) && (fill[k] as number) >= 0)) return undefined;
  return Object.fromEntries(FIELDS.map((k) => [k, fill[k]])) as unknown as ClusterFill;
}

const HINT =
  'start every role before awaiting any (createServer and createWorker resolve only once the cluster is full, so await them together, e.g. Promise.all)';

/**
 * The `PS_ERR_TIMEOUT` of a cluster that did not fill within `timeoutMs`: names the roles still
 * missing (from the scheduler's last `fill`) and says to start every role before awaiting any.
 */
export function clusterDidNotFill(timeoutMs: number, fill: ClusterFill | undefined): PsError {
  const head = `the cluster did not fill within ${timeoutMs} ms`;
  if (!fill) {
    return new PsError(PsErrorCode.TIMEOUT, `${head} (the scheduler reported no counts); ${HINT}`, {
      timeoutMs,
    });
  }
  const missing: string[] = [];
  const full: string[] = [];
  for (const [role, have, want] of [
    ['servers', fill.servers, fill.numServers],
    ['workers', fill.workers, fill.numWorkers],
  ] as const) {
    if (have < want) missing.push(`${want - have} of ${want} ${role}`);
    else full.push(`${role} ${have}/${want} registered`);
  }
  const what = missing.length > 0 ? `${missing.join(' and ')} missing` : 'every node registered';
  const rest = full.length > 0 ? ` (${full.join(', ')})` : '';
  return new PsError(PsErrorCode.TIMEOUT, `${head}: ${what}${rest}; ${HINT}`, { timeoutMs, ...fill });
}
