import type tls from 'node:tls';

/**
 * TLS settings of {@link tcp}: PEM strings or buffers, as `node:tls` takes them. One object
 * serves both ends: a listening node presents `cert` and `key`; a dialing node checks the
 * listener's certificate against `ca` (default: the system's trusted authorities).
 */
export interface TcpTlsOptions {
  /** This node's certificate chain (PEM). Needed to listen. */
  cert?: tls.SecureContextOptions['cert'];
  /** The private key of `cert` (PEM). Needed to listen. */
  key?: tls.SecureContextOptions['key'];
  /** Passphrase of `key`, if it is encrypted. */
  passphrase?: string;
  /** Authorities to trust instead of the system's: a self-signed certificate itself, or your CA. */
  ca?: tls.SecureContextOptions['ca'];
  /**
   * Refuse a peer whose certificate does not verify against `ca` (a dialer checks the listener's;
   * with `requestCert`, a listener checks the dialer's). Default true; false only for tests.
   */
  rejectUnauthorized?: boolean;
  /** Listening side: ask dialers for a certificate too (mutual TLS). Default false. */
  requestCert?: boolean;
  /** Dialing side: the host name the listener's certificate must carry. Default: the host dialed. */
  servername?: string;
}
