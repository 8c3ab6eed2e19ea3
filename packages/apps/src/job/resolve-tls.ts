import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PsError, PsErrorCode } from '@ps/core';

/** The PEM files of a `pskv` command's TLS settings (paths as given). */
export interface TlsFiles {
  /** This node's certificate chain (PEM). */
  cert?: string | undefined;
  /** The certificate's private key (PEM). */
  key?: string | undefined;
  /** The certificate authorities a node trusts when it dials (PEM); default: the system's. */
  ca?: string | undefined;
}

/** TLS settings read from their files: PEM text, as `tcp({ tls })` and `ws({ tls })` take it. */
export interface ResolvedTls {
  /** PEM texts; undefined when no TLS file was given (connections are then plain). */
  tls?: { cert: string; key: string; ca?: string };
  /** The absolute paths they were read from, to hand to role processes (`PS_TLS_*`). */
  files?: { cert: string; key: string; ca?: string };
}

function readPem(what: string, path: string): { abs: string; text: string } {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `cannot read the TLS ${what} ${abs}: ${(err as Error).message}`,
      undefined,
      {
        cause: err,
      },
    );
  }
  if (!text.includes('-----BEGIN ')) {
    throw new PsError(PsErrorCode.CONFIG, `the TLS ${what} ${abs} is not PEM (no -----BEGIN line)`);
  }
  return { abs, text };
}

/**
 * Finds the TLS settings of a `pskv` command: each file from its flag (`--tls-cert`, `--tls-key`,
 * `--tls-ca`), else from `PS_TLS_CERT`, `PS_TLS_KEY`, `PS_TLS_CA`. Every role of a job both
 * listens and dials, so a certificate and its key go together; `ca` is what dialers trust (give
 * the certificate itself when it is self-signed).
 * @throws PsError `PS_ERR_CONFIG` when a file cannot be read or is not PEM, or when only one of
 *   the certificate and the key is given.
 */
export function resolveTls(
  given: TlsFiles,
  env: Record<string, string | undefined> = process.env,
): ResolvedTls {
  const cert = given.cert ?? (env.PS_TLS_CERT || undefined);
  const key = given.key ?? (env.PS_TLS_KEY || undefined);
  const ca = given.ca ?? (env.PS_TLS_CA || undefined);
  if (cert === undefined && key === undefined && ca === undefined) return {};
  if (cert === undefined || key === undefined) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `TLS needs both a certificate and its key (--tls-cert and --tls-key, or PS_TLS_CERT and PS_TLS_KEY); got only ${cert === undefined ? (key === undefined ? 'a CA' : 'a key') : 'a certificate'}`,
    );
  }
  const c = readPem('certificate', cert);
  const k = readPem('key', key);
  const a = ca === undefined ? undefined : readPem('CA', ca);
  return {
    tls: { cert: c.text, key: k.text, ...(a ? { ca: a.text } : {}) },
    files: { cert: c.abs, key: k.abs, ...(a ? { ca: a.abs } : {}) },
  };
}
