import { PsError, PsErrorCode } from '../errors.js';

/**
 * A consistency policy: the shape of the task dependency graph a worker builds (OSDI 2014,
 * section 3.5, Figure 5). With bounded delay τ, task t is held back until every task older than
 * t − τ has finished; `sequential` is τ = 0 and `eventual` is τ = ∞.
 */
export type Consistency =
  | { readonly kind: 'sequential' }
  | { readonly kind: 'eventual' }
  | { readonly kind: 'bounded'; readonly tau: number };

/** Each task waits for the previous one to finish (τ = 0). */
export function sequential(): Consistency {
  return { kind: 'sequential' };
}

/** No task waits for another (τ = ∞). */
export function eventual(): Consistency {
  return { kind: 'eventual' };
}

/**
 * Task t waits for every task older than t − τ (so at most τ + 1 tasks are in flight).
 * `boundedDelay(0)` behaves as `sequential()`, `boundedDelay(Infinity)` as `eventual()`.
 * @throws PsError `PS_ERR_CONFIG` unless τ is a non-negative integer or Infinity.
 */
export function boundedDelay(tau: number): Consistency {
  if (!(tau === Number.POSITIVE_INFINITY || (Number.isInteger(tau) && tau >= 0))) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `bounded delay τ must be a non-negative integer or Infinity, got ${tau}`,
    );
  }
  return { kind: 'bounded', tau };
}

/** The delay τ of a policy: 0 for sequential, Infinity for eventual. */
export function delayOf(c: Consistency): number {
  return c.kind === 'sequential' ? 0 : c.kind === 'eventual' ? Number.POSITIVE_INFINITY : c.tau;
}

/** Reads a policy from its name (`sequential`, `eventual`, `bounded`) and τ, as a CLI gives them. */
export function parseConsistency(name: string, tau = 0): Consistency {
  if (name === 'sequential') return sequential();
  if (name === 'eventual') return eventual();
  if (name === 'bounded') return boundedDelay(tau);
  throw new PsError(PsErrorCode.CONFIG, `consistency must be sequential, eventual or bounded, got ${name}`);
}
