import { PsError, PsErrorCode } from '@ps/core';

// The exit status of a role process (`pskv start`) tells an orchestrator what to do: 0 the job is
// done (do not run it again), 1 or 2 it failed (running it again fails again), 3 this node was
// left behind by a cluster that goes on, 75 a transient failure (restart the job: Kubernetes'
// JobSet restarts every pod on it, see the manifests of `pskv k8s`; Slurm's `--requeue`).

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
 * Restart me (`EX_TEMPFAIL` of `sysexits.h`): the failure is transient and the job should be run
 * again from the start (or its last snapshot): the node lost its scheduler (`PS_ERR_NODE_DEAD`:
 * it heard nothing from it for its heartbeat timeout and then could not reach it for
 * `schedulerReconnectMs` more: the scheduler's pod or host went away), or the cluster could not
 * form (the scheduler unreachable, `PS_ERR_PEER_UNREACHABLE`, or the cluster not filled in time,
 * `PS_ERR_TIMEOUT`, while the node was starting: a pod not scheduled, a host down).
 */
export const EXIT_RESTART = 75;
/** The node lost its scheduler: {@link EXIT_RESTART}. */
export const EXIT_LOST_SCHEDULER = EXIT_RESTART;

/** Errors thrown while a node was joining its cluster (see {@link duringStart}). */
const startErrors = new WeakSet<object>();

/**
 * Marks `err` as thrown while the node was joining its cluster (so that an unreachable scheduler
 * or a cluster that did not fill is {@link EXIT_RESTART}) and returns it.
 */
export function duringStart(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) startErrors.add(err);
  return err;
}

/** The exit code of a role process that ended with `err`. */
export function exitCodeOf(err: unknown): number {
  if (!(err instanceof PsError)) return EXIT_FAILED;
  if (err.code === PsErrorCode.SHUTDOWN) return EXIT_OK;
  if (err.code === PsErrorCode.FENCED) return EXIT_FENCED;
  if (err.code === PsErrorCode.NODE_DEAD) return EXIT_RESTART;
  if (startErrors.has(err) && (err.code === PsErrorCode.PEER_UNREACHABLE || err.code === PsErrorCode.TIMEOUT))
    return EXIT_RESTART;
  return EXIT_FAILED;
}
