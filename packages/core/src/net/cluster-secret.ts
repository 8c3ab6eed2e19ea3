import { PsError, PsErrorCode } from '../errors.js';

/** Shortest cluster secret accepted, in bytes (UTF-8 bytes for a string). */
export const MIN_SECRET_BYTES = 16;

/** Length of an HMAC-SHA256 proof, in bytes. */
export const PROOF_BYTES = 32;

/** The part of WebCrypto's `SubtleCrypto` the secret uses (Node 20+ and browsers have it). */
interface Subtle {
  importKey(
    format: 'raw',
    key: Uint8Array,
    algorithm: { name: 'HMAC'; hash: 'SHA-256' },
    extractable: boolean,
    usages: ('sign' | 'verify')[],
  ): Promise<unknown>;
  sign(algorithm: 'HMAC', key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
  verify(algorithm: 'HMAC', key: unknown, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
}

function subtle(): Subtle {
  const s = (globalThis as { crypto?: { subtle?: unknown } }).crypto?.subtle;
  if (!s) {
    throw new PsError(
      PsErrorCode.CONFIG,
      'a cluster secret needs WebCrypto (crypto.subtle), which this runtime lacks; in a browser it exists only in a secure context (https, or http://localhost)',
    );
  }
  return s as Subtle;
}

/**
 * The cluster secret: a shared key every node of a cluster holds, with which each side of a
 * connection proves at the handshake that it holds the key too (HMAC-SHA256 over a transcript
 * of the handshake; see `Handshake`). The key never leaves this object: it is not sent, not
 * logged and not shown by `console.log` or `JSON.stringify`.
 *
 * Runs on WebCrypto (`globalThis.crypto.subtle`), so it works in Node 20+ and in browsers
 * (secure contexts only: https, or http://localhost).
 */
export class ClusterSecret {
  readonly #bytes: Uint8Array;
  #key: Promise<unknown> | undefined;

  /**
   * @param secret The secret: a string (its UTF-8 bytes are the key) or raw bytes (copied).
   *   Use at least 32 random bytes (`openssl rand -base64 32`): anyone who records a handshake
   *   can try to guess a weak secret offline.
   * @throws PsError `PS_ERR_CONFIG` when the secret is shorter than {@link MIN_SECRET_BYTES}
   *   bytes or the runtime has no WebCrypto.
   */
  constructor(secret: string | Uint8Array) {
    const bytes =
      typeof secret === 'string'
        ? new TextEncoder().encode(secret)
        : secret instanceof Uint8Array
          ? secret.slice()
          : undefined;
    if (bytes === undefined || bytes.byteLength < MIN_SECRET_BYTES) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `the cluster secret must be a string or bytes of at least ${MIN_SECRET_BYTES} bytes (got ${bytes === undefined ? typeof secret : `${bytes.byteLength}`}); use e.g. \`openssl rand -base64 32\``,
      );
    }
    subtle();
    this.#bytes = bytes;
  }

  /**
   * The secret of a transport option: `undefined` stays `undefined` (no authentication); a
   * string or bytes become a `ClusterSecret`; a `ClusterSecret` is returned as it is.
   * @throws PsError `PS_ERR_CONFIG` as the constructor.
   */
  static from(secret: string | Uint8Array | ClusterSecret | undefined): ClusterSecret | undefined {
    if (secret === undefined) return undefined;
    return secret instanceof ClusterSecret ? secret : new ClusterSecret(secret);
  }

  private key(): Promise<unknown> {
    this.#key ??= subtle().importKey('raw', this.#bytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    return this.#key;
  }

  /** HMAC-SHA256 of `data` under the secret: {@link PROOF_BYTES} bytes. */
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(await subtle().sign('HMAC', await this.key(), data));
  }

  /**
   * True when `mac` is the HMAC-SHA256 of `data` under the secret. The comparison is WebCrypto's
   * `verify`, which takes the same time wherever the bytes differ.
   */
  async verify(mac: Uint8Array, data: Uint8Array): Promise<boolean> {
    if (mac.byteLength !== PROOF_BYTES) return false;
    return subtle().verify('HMAC', await this.key(), mac, data);
  }

  /** Never the secret. */
  toString(): string {
    return '[ClusterSecret]';
  }

  /** Never the secret. */
  toJSON(): string {
    return '[ClusterSecret]';
  }
}
