import { PsError, PsErrorCode, type RoleSecretValues } from '@ps/core';
import { resolveSecret } from './resolve-secret.js';

/**
 * The per-role secrets of a `pskv` command (see `RoleSecrets` in `@ps/core`): the servers' and
 * the workers' secret, each with the file it came from. A role process is given only what its
 * role holds: a worker never gets the servers' secret.
 */
export interface ResolvedRoleSecrets {
  /** The servers' secret (the scheduler and the servers hold it), when given. */
  server?: string;
  /** The workers' secret (every node holds it), when given. */
  worker?: string;
  /** The absolute path the servers' secret was read from, when it came from a file. */
  serverFile?: string;
  /** The absolute path the workers' secret was read from, when it came from a file. */
  workerFile?: string;
  /** Cautions for the user (a file readable by other users). */
  warnings: string[];
}

/** The environment variables that carry a secret to a role process (all of them). */
export const SECRET_ENV_VARS = [
  'PS_SECRET',
  'PS_SECRET_FILE',
  'PS_SERVER_SECRET',
  'PS_SERVER_SECRET_FILE',
  'PS_WORKER_SECRET',
  'PS_WORKER_SECRET_FILE',
] as const;

/**
 * Finds the per-role secrets of a `pskv` command: the servers' from `--server-secret-file`,
 * else `PS_SERVER_SECRET_FILE`, else `PS_SERVER_SECRET`; the workers' likewise from
 * `--worker-secret-file`, `PS_WORKER_SECRET_FILE`, `PS_WORKER_SECRET`. A file's content is the
 * secret without one trailing newline. Returns undefined when neither is given. Which role needs
 * which is checked where the secrets are used (`RoleSecrets`: a server needs both, a worker the
 * workers' only).
 * @throws PsError `PS_ERR_CONFIG` when a file cannot be read, a secret is shorter than 16 bytes,
 *   the two secrets are equal, or a single cluster secret (`--secret-file`, `PS_SECRET_FILE`,
 *   `PS_SECRET`) is given too: a cluster uses one form or the other.
 */
export function resolveRoleSecrets(
  flags: {
    serverFile?: string | undefined;
    workerFile?: string | undefined;
    secretFile?: string | undefined;
  },
  env: Record<string, string | undefined> = process.env,
): ResolvedRoleSecrets | undefined {
  const server = resolveSecret(flags.serverFile, {
    PS_SECRET_FILE: env.PS_SERVER_SECRET_FILE,
    PS_SECRET: env.PS_SERVER_SECRET,
  });
  const worker = resolveSecret(flags.workerFile, {
    PS_SECRET_FILE: env.PS_WORKER_SECRET_FILE,
    PS_SECRET: env.PS_WORKER_SECRET,
  });
  if (server.secret === undefined && worker.secret === undefined) return undefined;
  if (flags.secretFile || env.PS_SECRET_FILE || env.PS_SECRET) {
    throw new PsError(
      PsErrorCode.CONFIG,
      'give either one cluster secret (--secret-file, PS_SECRET_FILE, PS_SECRET) or per-role secrets (--server-secret-file and --worker-secret-file, or their PS_SERVER_SECRET*/PS_WORKER_SECRET* variables), not both',
    );
  }
  if (server.secret !== undefined && server.secret === worker.secret) {
    throw new PsError(
      PsErrorCode.CONFIG,
      "the servers' and the workers' secrets are the same: make two (e.g. `openssl rand -base64 32 > servers.secret`, and again for workers.secret)",
    );
  }
  return {
    ...(server.secret === undefined ? {} : { server: server.secret }),
    ...(worker.secret === undefined ? {} : { worker: worker.secret }),
    ...(server.file ? { serverFile: server.file } : {}),
    ...(worker.file ? { workerFile: worker.file } : {}),
    warnings: [server.warning, worker.warning].filter((w): w is string => w !== undefined),
  };
}

/** The secrets `RoleSecrets` takes, from resolved ones. */
export function roleSecretValues(r: ResolvedRoleSecrets): RoleSecretValues {
  return {
    ...(r.server === undefined ? {} : { server: r.server }),
    ...(r.worker === undefined ? {} : { worker: r.worker }),
  };
}

/**
 * The secret variables of a role process launched with `r` (files by path when they came from
 * files, else the values): the scheduler and servers get both secrets, a worker the workers' only.
 */
export function roleSecretEnv(
  r: ResolvedRoleSecrets,
  role: 'scheduler' | 'server' | 'worker',
): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.workerFile) out.PS_WORKER_SECRET_FILE = r.workerFile;
  else if (r.worker !== undefined) out.PS_WORKER_SECRET = r.worker;
  if (role === 'worker') return out;
  if (r.serverFile) out.PS_SERVER_SECRET_FILE = r.serverFile;
  else if (r.server !== undefined) out.PS_SERVER_SECRET = r.server;
  return out;
}
