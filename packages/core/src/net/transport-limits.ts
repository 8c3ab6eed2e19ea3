import { PsError, PsErrorCode } from '../errors.js';

/**
 * The memory and connection limits a listening socket transport takes (`tcp()`, `ws()`), as
 * {@link transportLimitsFromEnv} reads them. Each is optional; a transport's default applies
 * where it is missing.
 */
export interface TransportLimits {
  /** `PS_MAX_CONNECTIONS`: accepted connections open at once. */
  maxConnections?: number;
  /** `PS_MAX_PENDING_HANDSHAKES`: accepted connections waiting for their handshake at once. */
  maxPendingHandshakes?: number;
  /** `PS_MAX_PENDING_HANDSHAKES_PER_SOURCE`: of those, from one remote address. */
  maxPendingHandshakesPerSource?: number;
  /** `PS_MAX_INBOUND_BUFFER_BYTES`: bytes of partly received frames over all connections. */
  maxInboundBufferBytes?: number;
  /** `PS_MAX_QUEUED_BYTES`: bytes queued for sending on one connection. */
  maxQueuedBytes?: number;
}

const VARIABLES = {
  PS_MAX_CONNECTIONS: 'maxConnections',
  PS_MAX_PENDING_HANDSHAKES: 'maxPendingHandshakes',
  PS_MAX_PENDING_HANDSHAKES_PER_SOURCE: 'maxPendingHandshakesPerSource',
  PS_MAX_INBOUND_BUFFER_BYTES: 'maxInboundBufferBytes',
  PS_MAX_QUEUED_BYTES: 'maxQueuedBytes',
} as const satisfies Record<string, keyof TransportLimits>;

/**
 * Reads a transport's limits from the environment (`PS_MAX_CONNECTIONS`,
 * `PS_MAX_PENDING_HANDSHAKES`, `PS_MAX_PENDING_HANDSHAKES_PER_SOURCE`,
 * `PS_MAX_INBOUND_BUFFER_BYTES`, `PS_MAX_QUEUED_BYTES`), for the command line's roles:
 * `tcp({ ...transportLimitsFromEnv(), secret })`. Unset or empty variables are left out.
 * @throws PsError `PS_ERR_CONFIG` when a variable is set but not a positive integer.
 */
export function transportLimitsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): TransportLimits {
  const limits: TransportLimits = {};
  for (const [name, key] of Object.entries(VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new PsError(PsErrorCode.CONFIG, `${name} must be a positive integer, got '${raw}'`);
    }
    limits[key] = n;
  }
  return limits;
}
