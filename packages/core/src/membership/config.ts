import { PsError, PsErrorCode } from '../errors.js';
import { MIN_SECRET_BYTES } from '../net/cluster-secret.js';
import type { PeerAddress } from '../net/transport.js';
import type { Role } from '../wire/message.js';

/** Cluster settings of one process, as read from the environment by {@link configFromEnv}. */
export interface EnvConfig {
  /** `PS_ROLE`: scheduler, server or worker. */
  role: Role;
  /** `PS_SCHEDULER` as `host:port`: where the scheduler listens. */
  scheduler: PeerAddress;
  /** `PS_NUM_SERVERS`. */
  numServers: number;
  /** `PS_NUM_WORKERS`. */
  numWorkers: number;
  /** `PS_HOST`: the address this node listens on and announces. Default `127.0.0.1`. */
  host: string;
  /** `PS_PORT`: the port this node listens on (the scheduler: its own port). Default 0 (any). */
  port: number;
  /**
   * `PS_SECRET`: the cluster secret, when set (give it to the transport: `tcp({ secret })`).
   * Every node of the cluster needs the same one; without it connections are not authenticated.
   */
  secret?: string;
  /**
   * `PS_REJOIN` (`1` or `true`): a node declared dead (`PS_ERR_FENCED`) starts over as a new node
   * instead of exiting. Default false. `ps start` honours it for servers.
   */
  rejoin?: boolean;
  /**
   * `PS_RECOVER` (`1` or `true`, the scheduler): start as the scheduler of a running cluster whose
   * scheduler died, at its address (`SchedulerOptions.recover`). Default false.
   */
  recover?: boolean;
  /** `PS_RUN` (the scheduler): the run's id (`SchedulerOptions.run`). Default: a new one. */
  run?: string;
}

/** The environment variables {@link configFromEnv} reads, with their ps-lite equivalents. */
export const ENV_VARIABLES = {
  PS_ROLE: 'DMLC_ROLE',
  PS_SCHEDULER: 'DMLC_PS_ROOT_URI:DMLC_PS_ROOT_PORT',
  PS_NUM_SERVERS: 'DMLC_NUM_SERVER',
  PS_NUM_WORKERS: 'DMLC_NUM_WORKER',
  PS_HOST: 'DMLC_NODE_HOST',
  PS_PORT: 'DMLC_PORT',
  PS_SECRET: '(none: ps-lite does not authenticate)',
  PS_REJOIN: '(none: ps-lite has no fencing)',
  PS_RECOVER: '(none: a ps-lite scheduler cannot restart)',
  PS_RUN: '(none)',
} as const;

function positiveInt(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isInteger(n) || n < 1) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `${name} must be a positive integer, got ${raw === undefined ? 'nothing' : `'${raw}'`}`,
    );
  }
  return n;
}

/** Parses `host:port` (IPv6 hosts in brackets: `[::1]:9000`). */
export function parseHostPort(name: string, raw: string | undefined, allowPortZero = false): PeerAddress {
  const m = raw === undefined ? null : /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < (allowPortZero ? 0 : 1) || port > 65535) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `${name} must be host:port (for example 127.0.0.1:9000), got ${raw === undefined ? 'nothing' : `'${raw}'`}`,
    );
  }
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * Reads a process's cluster settings from environment variables, for launching roles as
 * separate processes (ps-lite's `DMLC_*` variables are the model; see {@link ENV_VARIABLES}).
 * @throws PsError `PS_ERR_CONFIG` naming the variable that is missing or malformed (`PS_SECRET`:
 *   shorter than `MIN_SECRET_BYTES`).
 */
export function configFromEnv(env: Record<string, string | undefined> = process.env): EnvConfig {
  const role = env.PS_ROLE;
  if (role !== 'scheduler' && role !== 'server' && role !== 'worker') {
    throw new PsError(
      PsErrorCode.CONFIG,
      `PS_ROLE must be scheduler, server or worker, got ${role === undefined ? 'nothing' : `'${role}'`}`,
    );
  }
  // The scheduler itself may be told port 0 (any free port; it then reports the real one).
  const scheduler = parseHostPort('PS_SCHEDULER', env.PS_SCHEDULER, role === 'scheduler');
  const port =
    env.PS_PORT === undefined || env.PS_PORT === ''
      ? role === 'scheduler'
        ? scheduler.port
        : 0
      : Number(env.PS_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new PsError(PsErrorCode.CONFIG, `PS_PORT must be a port number (0 for any), got '${env.PS_PORT}'`);
  }
  const secret = env.PS_SECRET;
  if (secret && new TextEncoder().encode(secret).byteLength < MIN_SECRET_BYTES) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `PS_SECRET must be at least ${MIN_SECRET_BYTES} bytes (use e.g. \`openssl rand -base64 32\`)`,
    );
  }
  const rejoinRaw = (env.PS_REJOIN ?? '').trim().toLowerCase();
  if (!['', '0', '1', 'true', 'false'].includes(rejoinRaw)) {
    throw new PsError(PsErrorCode.CONFIG, `PS_REJOIN must be 1, true, 0 or false, got '${env.PS_REJOIN}'`);
  }
  const recoverRaw = (env.PS_RECOVER ?? '').trim().toLowerCase();
  if (!['', '0', '1', 'true', 'false'].includes(recoverRaw)) {
    throw new PsError(PsErrorCode.CONFIG, `PS_RECOVER must be 1, true, 0 or false, got '${env.PS_RECOVER}'`);
  }
  const run = (env.PS_RUN ?? '').trim();
  if (run !== '' && !/^[\w.-]{1,64}$/.test(run)) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `PS_RUN must be 1 to 64 letters, digits, '.', '_' or '-', got '${run}'`,
    );
  }
  return {
    ...(rejoinRaw === '1' || rejoinRaw === 'true' ? { rejoin: true } : {}),
    ...(recoverRaw === '1' || recoverRaw === 'true' ? { recover: true } : {}),
    ...(run !== '' ? { run } : {}),
    role,
    scheduler,
    numServers: positiveInt('PS_NUM_SERVERS', env.PS_NUM_SERVERS),
    numWorkers: positiveInt('PS_NUM_WORKERS', env.PS_NUM_WORKERS),
    host: env.PS_HOST || (role === 'scheduler' ? scheduler.host : '127.0.0.1'),
    port,
    ...(secret ? { secret } : {}),
  };
}
