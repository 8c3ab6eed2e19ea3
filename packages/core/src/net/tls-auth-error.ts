/** Node's (OpenSSL's) codes for a certificate that does not verify. */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/**
 * True when a socket error is a TLS failure that retrying will not cure: the peer's certificate
 * does not verify (untrusted, expired, another host name), or the TLS exchange itself failed
 * (OpenSSL's `ERR_SSL_*`, or `EPROTO` with an SSL message: a peer that refused our certificate,
 * or does not speak TLS). The
 * socket transports report these as `PS_ERR_AUTH` and do not retry them. A plain string test
 * on `err.code`: it imports nothing and runs anywhere.
 */
export function isTlsAuthError(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code !== 'string') return false;
  if (CERTIFICATE_CODES.has(code) || code.startsWith('ERR_SSL_')) return true;
  // A fatal alert from the peer met while writing: `write EPROTO ... SSL routines ... alert`.
  return code === 'EPROTO' && typeof message === 'string' && /SSL/.test(message);
}
