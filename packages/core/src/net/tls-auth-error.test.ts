import { describe, expect, it } from 'vitest';
import { isTlsAuthError } from './tls-auth-error.js';

const err = (code: string | undefined, message = '') => Object.assign(new Error(message), { code });

describe('isTlsAuthError', () => {
  it('is true for certificate failures and TLS protocol failures, which retrying will not cure', () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']) {
      expect(isTlsAuthError(err(code))).toBe(true);
    }
    expect(isTlsAuthError(err('ERR_SSL_WRONG_VERSION_NUMBER'))).toBe(true);
    expect(
      isTlsAuthError(err('EPROTO', 'write EPROTO ...:SSL routines:...:sslv3 alert handshake failure')),
    ).toBe(true);
  });

  it('is false for network failures worth a retry, and for anything without a code', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPROTO']) {
      expect(isTlsAuthError(err(code))).toBe(false);
    }
    expect(isTlsAuthError(new Error('x'))).toBe(false);
    expect(isTlsAuthError(undefined)).toBe(false);
    expect(isTlsAuthError('DEPTH_ZERO_SELF_SIGNED_CERT')).toBe(false);
  });
});
