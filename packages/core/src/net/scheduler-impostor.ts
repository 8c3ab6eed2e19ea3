import { PsError, PsErrorCode } from '../errors.js';
import { type NodeId, SCHEDULER_ID } from '../wire/message.js';

/**
 * The one identity an accepting transport checks beyond the handshake's proof: once a node has
 * dialed the scheduler, an incoming peer may not claim the scheduler's id (only the scheduler
 * sends commands, and a node hears it over the connection it opened). Other ids may arrive both
 * ways: servers dial each other to forward pushes to replicas.
 *
 * Returns the `PS_ERR_AUTH` error to refuse `peer` with, or undefined to admit it. `link` names
 * the transport's unit in the message (`connection`, `link`).
 */
export function refuseSchedulerImpostor(
  peer: NodeId,
  dialed: { has(id: NodeId): boolean },
  link = 'connection',
): PsError | undefined {
  if (peer !== SCHEDULER_ID || !dialed.has(peer)) return undefined;
  return new PsError(
    PsErrorCode.AUTH,
    `a peer claims to be ${peer}, which this node reaches over a ${link} it opened itself; refused (an impostor, or two nodes with one id)`,
  );
}

/**
 * When a node dials the scheduler, an accepted peer that claimed the scheduler's id first is an
 * impostor: returns the `PS_ERR_AUTH` error to close it with, or undefined when `id` is not the
 * scheduler's (the accepted peer may stay).
 */
export function displacedSchedulerImpostor(id: NodeId, link = 'connection'): PsError | undefined {
  if (id !== SCHEDULER_ID) return undefined;
  return new PsError(
    PsErrorCode.AUTH,
    `an incoming ${link} claimed to be ${id}, which this node now reaches over its own ${link}; closed`,
  );
}
