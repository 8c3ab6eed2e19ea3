import { isTlsAuthError, PsError, PsErrorCode } from '@ps/core';

/** Maps an error of a dial before the upgrade completed to a PsError. */
export function dialError(err: Error & { code?: string; syscall?: string }, url: string): PsError {
  const cause = { cause: err };
  if (isTlsAuthError(err)) {
    // An untrusted certificate, or a peer that does not speak TLS: retrying will not help.
    return new PsError(PsErrorCode.AUTH, `TLS to ${url} failed: ${err.message}`, undefined, cause);
  }
  if (err.code?.startsWith('HPE_')) {
    return new PsError(
      PsErrorCode.HANDSHAKE,
      `${url} is not a @ps WebSocket endpoint (the answer is not HTTP: ${err.message}); a wss:// port? give this transport the same tls options as the server`,
      undefined,
      cause,
    );
  }
  const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
  // Refused, reset or timed out is worth a retry; a 4xx or a bad accept header is not.
  const retry =
    err.syscall !== undefined ||
    err.code !== undefined ||
    /timed out|closed before|hang up/i.test(err.message) ||
    (status !== undefined && Number(status) >= 500);
  // A wss:// port closes on a plain upgrade request without a word: say so.
  const hint = /hang up/i.test(err.message)
    ? ' (a wss:// port? then give this transport the tls options of the cluster)'
    : '';
  return retry
    ? new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `cannot connect to ${url}: ${err.message}${hint}`,
        undefined,
        cause,
      )
    : new PsError(
        PsErrorCode.HANDSHAKE,
        `${url} is not a @ps WebSocket endpoint: ${err.message}`,
        undefined,
        cause,
      );
}
