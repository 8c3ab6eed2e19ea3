import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClusterSecret, PsError, PsErrorCode } from '@ps/core';

/** Where the cluster secret of a `pskv` command came from, and the secret itself. */
export interface ResolvedSecret {
  /** The secret; undefined when none was given (connections are then not authenticated). */
  secret?: string;
  /** The absolute path of the file it was read from, when it came from a file. */
  file?: string;
  /** A caution for the user (the file is readable by other users). */
  warning?: string;
}

/**
 * Finds the cluster secret of a `pskv` command: the file named by `--secret-file`, else the file
 * named by `PS_SECRET_FILE`, else `PS_SECRET` itself. A file's content is the secret, without
 * one trailing newline (so `openssl rand -base64 32 > secret` works as it is).
 * @throws PsError `PS_ERR_CONFIG` when the file cannot be read or the secret is shorter than
 *   16 bytes.
 */
export function resolveSecret(
  file: string | undefined,
  env: Record<string, string | undefined> = process.env,
): ResolvedSecret {
  const path = file ?? (env.PS_SECRET_FILE || undefined);
  if (path === undefined) {
    const secret = env.PS_SECRET || undefined;
    if (secret === undefined) return {};
    new ClusterSecret(secret);
    return { secret };
  }
  const abs = resolve(path);
  let text: string;
  let mode: number;
  try {
    text = readFileSync(abs, 'utf8');
    mode = statSync(abs).mode;
  } catch (err) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `cannot read the secret file ${abs}: ${(err as Error).message}`,
      undefined,
      { cause: err },
    );
  }
  const secret = text.replace(/\r?\n$/, '');
  try {
    new ClusterSecret(secret);
  } catch (err) {
    const why = (err as Error).message.replace(/^PS_ERR_CONFIG: /, '');
    throw new PsError(PsErrorCode.CONFIG, `the secret file ${abs}: ${why}`);
  }
  return (mode & 0o077) !== 0
    ? { secret, file: abs, warning: `${abs} is readable by other users; chmod 600 it` }
    : { secret, file: abs };
}
