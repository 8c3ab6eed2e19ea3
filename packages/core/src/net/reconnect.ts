import { PsError, PsErrorCode } from '../errors.js';
import type { PeerAddress } from './transport.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Most attempts of one {@link dialWithRetry}, whatever the window (a bound on the loop). */
const MAX_ATTEMPTS = 10_000;

/**
 * Dials until it succeeds or `windowMs` passes, with exponential backoff (20 ms to 1 s). Only
 * `PS_ERR_PEER_UNREACHABLE` is retried: a peer that answers but refuses (auth, handshake, rate
 * limit) fails at once with its error.
 * @throws PsError `PS_ERR_PEER_UNREACHABLE` naming the address and the window once it passed,
 *   `PS_ERR_CLOSED` when `closed()` turns true, or the first error that is not retried.
 */
export async function dialWithRetry<T>(
  dial: (address: PeerAddress) => Promise<T>,
  address: PeerAddress,
  windowMs: number,
  closed: () => PsError | undefined,
): Promise<T> {
  const deadline = Date.now() + windowMs;
  let delay = 20;
  let last: PsError | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const stop = closed();
    if (stop) throw stop;
    try {
      return await dial(address);
    } catch (err) {
      last = err instanceof PsError ? err : new PsError(PsErrorCode.PEER_UNREACHABLE, String(err));
      if (last.code !== PsErrorCode.PEER_UNREACHABLE || Date.now() + delay > deadline) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }
  if (last && last.code !== PsErrorCode.PEER_UNREACHABLE) throw last;
  throw new PsError(
    PsErrorCode.PEER_UNREACHABLE,
    `${address.host}:${address.port} unreachable for ${windowMs} ms: ${last?.message ?? 'no attempt'}`,
  );
}
