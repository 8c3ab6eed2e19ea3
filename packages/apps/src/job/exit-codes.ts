import { PsError, PsErrorCode } from '@ps/core';

/** A role process (`ps start`) ended its part normally, or was shut down in order. */
export const EXIT_OK = 0;
/** A role process failed (bad input, a handler error, an unreachable peer...). */
export const EXIT_FAILED = 1;
/**
 * The scheduler declared this node dead (`PS_ERR_FENCED`: it was silent past the heartbeat
 * timeout, e.g. paused) and the cluster went on without it: the node stopped serving. Not a
 * failure of the job; restart the node to add it back (it joins as a new node).
 */
export const EXIT_FENCED = 3;
/**
 * The node heard nothing from the scheduler for its heartbeat timeout and then could not reach
 * it for `schedulerReconnectMs` more (`PS_ERR_NODE_DEAD`): the scheduler died and was not started
 * again (with `PS_RECOVER=1`) in time, or finished the job while this node was paused.
 */
export const EXIT_LOST_SCHEDULER = 4;

/** The exit code of a role process that ended with `err`. */
export function exitCodeOf(err: unknown): number {
  if (!(err instanceof PsError)) return EXIT_FAILED;
  if (err.code === PsErrorCode.SHUTDOWN) return EXIT_OK;
  if (err.code === PsErrorCode.FENCED) return EXIT_FENCED;
  if (err.code === PsErrorCode.NODE_DEAD) return EXIT_LOST_SCHEDULER;
  return EXIT_FAILED;
}
