import { PsError, PsErrorCode } from '../errors.js';

/** The environment as `process.env` holds it. */
export type EnvVars = Readonly<Record<string, string | undefined>>;

/** The `PS_*` variables an orchestrator's dialect of the environment stands for. */
export type ClusterVars = Partial<
  Record<'PS_ROLE' | 'PS_SCHEDULER' | 'PS_NUM_SERVERS' | 'PS_NUM_WORKERS' | 'PS_HOST' | 'PS_PORT', string>
>;

/**
 * The port the scheduler listens on when an orchestrator starts the job (Kubernetes, Slurm) and
 * `PS_SCHEDULER_PORT` does not say: every pod has an address of its own, so one well-known port
 * serves every job. Servers and workers listen on any free port (they announce it).
 */
export const DEFAULT_SCHEDULER_PORT = 9700;

/** A `PS_ERR_CLUSTER_ENV` error. */
export function clusterEnvError(message: string): PsError {
  return new PsError(PsErrorCode.CLUSTER_ENV, message);
}

/** The trimmed value of `name`, or undefined when unset or blank. */
export function envValue(env: EnvVars, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/**
 * The value of `name`, which the dialect needs.
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming `name` and why the dialect needs it.
 */
export function requireVar(env: EnvVars, name: string, why: string): string {
  const v = envValue(env, name);
  if (v === undefined) throw clusterEnvError(`${name} is not set: ${why}`);
  return v;
}

/**
 * A non-negative integer variable (an index, a rank, a count).
 * @throws PsError `PS_ERR_CLUSTER_ENV` when it is not a non-negative integer.
 */
export function indexVar(env: EnvVars, name: string, why: string): number {
  const raw = requireVar(env, name, why);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw clusterEnvError(`${name} must be a non-negative integer, got '${raw}'`);
  }
  return n;
}

/**
 * The scheduler's port of an orchestrated job: `PS_SCHEDULER_PORT`, else
 * {@link DEFAULT_SCHEDULER_PORT}.
 * @throws PsError `PS_ERR_CLUSTER_ENV` for a value that is not a port from 1 to 65535.
 */
export function schedulerPort(env: EnvVars): number {
  const raw = envValue(env, 'PS_SCHEDULER_PORT');
  if (raw === undefined) return DEFAULT_SCHEDULER_PORT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) {
    throw clusterEnvError(`PS_SCHEDULER_PORT must be a port from 1 to 65535, got '${raw}'`);
  }
  return n;
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The role of rank `rank` in a job laid out by rank (an Indexed Job's completion index, a Slurm
 * task's rank): 0 the scheduler, then `servers` servers, then the workers.
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming `rankVar` when the rank is past the last worker.
 */
export function roleOfRank(
  rank: number,
  servers: number,
  workers: number,
  rankVar: string,
): 'scheduler' | 'server' | 'worker' {
  const total = 1 + servers + workers;
  if (rank >= total) {
    throw clusterEnvError(
      `${rankVar}=${rank} is past the end of the job: 1 scheduler + ${servers} servers + ${workers} workers = ${total} processes (ranks 0 to ${total - 1}); set PS_NUM_SERVERS and PS_NUM_WORKERS to the job's size`,
    );
  }
  return rank === 0 ? 'scheduler' : rank <= servers ? 'server' : 'worker';
}

/**
 * A count the dialect needs from `PS_*` (e.g. `PS_NUM_SERVERS`): a positive integer.
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming the variable when unset or not a positive integer.
 */
export function countVar(env: EnvVars, name: string, why: string): number {
  const raw = requireVar(env, name, why);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n)) {
    throw clusterEnvError(`${name} must be a positive integer, got '${raw}'`);
  }
  return n;
}

/**
 * The `PS_*` variables of one process of a job an orchestrator started: its role, the
 * scheduler's `schedulerHost` at {@link schedulerPort}, the job's `servers` and `workers`, the
 * name `host` it announces, and for the scheduler `PS_PORT` (the port it listens on).
 * @throws PsError `PS_ERR_CLUSTER_ENV` when `PS_SCHEDULER_PORT` is not a port.
 */
export function rankClusterVars(
  env: EnvVars,
  role: 'scheduler' | 'server' | 'worker',
  schedulerHost: string,
  servers: number,
  workers: number,
  host: string,
): ClusterVars {
  return {
    PS_ROLE: role,
    PS_SCHEDULER: hostPort(schedulerHost, schedulerPort(env)),
    PS_NUM_SERVERS: String(servers),
    PS_NUM_WORKERS: String(workers),
    PS_HOST: host,
    ...(role === 'scheduler' ? { PS_PORT: String(schedulerPort(env)) } : {}),
  };
}
