import { PsError, PsErrorCode } from '../errors.js';
import type { NodeId } from '../wire/message.js';
import { ClusterSecret } from './cluster-secret.js';

/** The credentials a cluster with per-role secrets has: one for servers, one for workers. */
export type CredentialRole = 'server' | 'worker';

/** The secrets of {@link RoleSecrets}: strings (UTF-8) or bytes, each at least 16 bytes. */
export interface RoleSecretValues {
  /** The servers' secret: the scheduler and every server hold it; workers must not. */
  server?: string | Uint8Array;
  /** The workers' secret: every node holds it. */
  worker?: string | Uint8Array;
}

/** Most peer ids whose proven credential a node remembers (the oldest are forgotten first). */
const MAX_PROVEN = 65_536;

/**
 * Per-role cluster secrets: servers and workers prove different secrets at the handshake, so a
 * holder of the workers' secret cannot register as a server with the scheduler, nor send a server
 * the commands servers exchange (replica forwards, range copies). Pass it where a transport takes
 * `secret` (it is a {@link ClusterSecret}); the node's scheduler or servers then ask it which
 * credential each peer proved (`roleOf`). Which secrets each role holds:
 *
 * | this node | holds | dials with | accepts |
 * | --- | --- | --- | --- |
 * | scheduler | server, worker | (never dials) | both |
 * | server | server, worker | server | both (workers dial servers) |
 * | worker | worker | worker | worker |
 *
 * A single `secret` (a string or `ClusterSecret`) still works and covers every role, as before;
 * a cluster uses one form or the other on every node.
 *
 * @example
 * ```ts
 * const scheduler = await Scheduler.start({ transport: tcp({ secret: new RoleSecrets('scheduler', { server: S, worker: W }) }), ... });
 * const server = await createServer({ transport: tcp({ secret: new RoleSecrets('server', { server: S, worker: W }) }), ... });
 * const worker = await createWorker({ transport: tcp({ secret: new RoleSecrets('worker', { worker: W }) }), ... });
 * ```
 */
export class RoleSecrets extends ClusterSecret {
  /** The role of the node that holds these secrets. */
  readonly role: 'scheduler' | CredentialRole;
  readonly #credentials: ReadonlyMap<CredentialRole, ClusterSecret>;
  readonly #proven = new Map<NodeId, CredentialRole>();

  /**
   * @param role the role of this node: it decides which secrets it must hold and which it proves.
   * @param secrets the secrets (see the table above).
   * @throws PsError `PS_ERR_CONFIG` when a secret the role needs is missing, a worker is given the
   *   servers' secret, the two secrets are equal, or one is shorter than 16 bytes.
   */
  constructor(role: 'scheduler' | CredentialRole, secrets: RoleSecretValues) {
    const need: CredentialRole[] = role === 'worker' ? ['worker'] : ['server', 'worker'];
    for (const k of need) {
      if (secrets[k] === undefined) {
        throw new PsError(PsErrorCode.CONFIG, `RoleSecrets: a ${role} needs the ${k}s' secret`);
      }
    }
    if (role === 'worker' && secrets.server !== undefined) {
      throw new PsError(
        PsErrorCode.CONFIG,
        "RoleSecrets: a worker must not hold the servers' secret; give it the workers' secret only",
      );
    }
    super(role === 'worker' ? secrets.worker! : secrets.server!);
    const creds = new Map<CredentialRole, ClusterSecret>();
    for (const k of need) creds.set(k, new ClusterSecret(secrets[k]!));
    if (need.length === 2 && sameBytes(secrets.server!, secrets.worker!)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        "RoleSecrets: the servers' and the workers' secrets are the same; use two different secrets (or one `secret` for every role)",
      );
    }
    this.role = role;
    this.#credentials = creds;
  }

  /** The credential this node proves when it dials: its own role's (a scheduler's: the servers'). */
  get dialCredential(): CredentialRole {
    return this.role === 'worker' ? 'worker' : 'server';
  }

  /** The secret of one credential, if this node holds it. */
  credential(role: CredentialRole): ClusterSecret | undefined {
    return this.#credentials.get(role);
  }

  /** Records that `peer` proved `role`'s secret at a handshake this node accepted. */
  recordProven(peer: NodeId, role: CredentialRole): void {
    this.#proven.delete(peer);
    this.#proven.set(peer, role);
    if (this.#proven.size > MAX_PROVEN) this.#proven.delete(this.#proven.keys().next().value!);
  }

  /**
   * The credential `peer` proved on its latest connection to this node (undefined: it never
   * dialed this node; a peer this node dialed proved nothing of its role).
   */
  roleOf(peer: NodeId): CredentialRole | undefined {
    return this.#proven.get(peer);
  }
}

function sameBytes(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === 'string' ? new TextEncoder().encode(a) : a;
  const y = typeof b === 'string' ? new TextEncoder().encode(b) : b;
  return x.byteLength === y.byteLength && x.every((v, i) => v === y[i]);
}
