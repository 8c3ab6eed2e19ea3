import net from 'node:net';
import { type PeerAddress, PsError, PsErrorCode } from '@ps/core';

/** Most attempts of one {@link waitForScheduler}, whatever the timeout (a bound on the loop). */
const MAX_ATTEMPTS = 10_000;

/** Options of {@link waitForScheduler}. */
export interface WaitForSchedulerOptions {
  /** How long to wait in all, in ms. */
  timeoutMs: number;
  /** Resolves host names (`net.connect`'s `lookup`). Default `dns.lookup`. */
  lookup?: net.LookupFunction;
  /** Called after each failed attempt with its error (for tests and logs). */
  onAttempt?: (err: Error) => void;
}

/**
 * Waits until the scheduler's address resolves and accepts a TCP connection (then closes it, as a
 * readiness probe does), retrying with backoff from 100 ms to 2 s. Processes that an orchestrator
 * starts all at once (an Indexed Job's pods, a Slurm step's tasks) may start before the
 * scheduler's name is published or its port open: this gives them the start timeout rather than
 * the transport's connect timeout (30 s).
 * @throws PsError `PS_ERR_PEER_UNREACHABLE` naming the address and the last error once `timeoutMs`
 *   passed.
 */
export async function waitForScheduler(at: PeerAddress, opts: WaitForSchedulerOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 100;
  let last: Error | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      await probe(at, Math.min(left, 5_000), opts.lookup);
      return;
    } catch (err) {
      last = err as Error;
      opts.onAttempt?.(last);
    }
    if (Date.now() + delay >= deadline) break;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2_000);
  }
  throw new PsError(
    PsErrorCode.PEER_UNREACHABLE,
    `the scheduler at ${at.host}:${at.port} did not answer within ${opts.timeoutMs} ms: ${last?.message ?? 'no attempt'}`,
  );
}

/** One TCP connection to `at`, closed at once. */
function probe(at: PeerAddress, timeoutMs: number, lookup?: net.LookupFunction): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: at.host, port: at.port, ...(lookup ? { lookup } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}
