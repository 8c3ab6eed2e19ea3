import type { SecureContextOptions } from 'node:tls';

/**
 * TLS settings of the Node WebSocket medium: it then listens with HTTPS and dials `wss://` URLs.
 * PEM strings or buffers, as `node:tls` takes them; one object serves both ends.
 */
export interface WsTlsOptions {
  /** This node's certificate chain (PEM). Needed to listen. */
  cert?: SecureContextOptions['cert'];
  /** The private key of `cert` (PEM). Needed to listen. */
  key?: SecureContextOptions['key'];
  /** Passphrase of `key`, if it is encrypted. */
  passphrase?: string;
  /** Authorities to trust instead of the system's: a self-signed certificate itself, or your CA. */
  ca?: SecureContextOptions['ca'];
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
